"""The browser's side of the UI: who is signed in (a session cookie: Secure, HttpOnly,
SameSite=Strict), CSRF tokens on every form that changes anything, pages rendered with
Jinja2 (autoescaped), and the security headers every /ui answer carries.

An unsigned-in request is sent to the sign-in page (303); a signed-in person whose role may
not use a page gets 403; a form whose CSRF token is missing or wrong gets 403 and changes
nothing."""

from __future__ import annotations

import hmac
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from consentry.store import review as review_store
from consentry.store.review import SignIn

COOKIE = "consentry_session"
LOGIN_COOKIE = "consentry_signin_csrf"
HERE = Path(__file__).parent
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; "
                               "style-src 'self'; script-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_env = Environment(loader=FileSystemLoader(HERE / "templates"),
                   autoescape=select_autoescape(("html",), default=True),
                   trim_blocks=True, lstrip_blocks=True)


class UiRedirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


class UiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    signin: SignIn | None = getattr(request.state, "signin", None)
    review = request.app.state.review
    seen = len(signin.items_seen) if signin else 0
    since_break = seen - signin.seen_at_break if signin else 0
    html = _env.get_template(template).render(
        request=request, signin=signin, csrf=signin.csrf if signin else "", seen=seen,
        break_due=signin is not None and since_break >= review.break_after,
        break_after=review.break_after, **context)
    return HTMLResponse(html, status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, 303)


class Signed:
    """Dependency: a signed-in person with one of ``roles``."""

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - set(review_store.PEOPLE_ROLES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        self.roles = frozenset(roles)

    def __call__(self, request: Request) -> SignIn:
        token = request.cookies.get(COOKIE)
        review = request.app.state.review
        db = request.app.state.db
        signin = review_store.resume_session(db, token, review.session_idle_s) if token else None
        if signin is None:
            target = request.url.path if request.method == "GET" else "/ui/queue"
            raise UiRedirect(f"/ui/login?next={quote(target, safe='/')}")
        request.state.signin = signin
        if signin.person.role not in self.roles:
            raise UiError(403, f"the {signin.person.role} role may not use this page")
        return signin


async def checked_form(request: Request, signin: SignIn) -> dict[str, str]:
    """The posted form, once its CSRF token is the session's (else 403)."""
    form = await request.form()
    token = str(form.get("csrf", ""))
    if not token or not hmac.compare_digest(token, signin.csrf):
        raise UiError(403, "this form has expired or did not come from this site (CSRF token); "
                      "go back, reload the page and try again")
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def set_cookie(response: Response, name: str, value: str, request: Request, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", path="/ui",
                        secure=request.app.state.review.cookie_secure)


def install(app: FastAPI) -> None:
    @app.exception_handler(UiRedirect)
    async def to_login(_request: Request, exc: UiRedirect) -> Response:
        return redirect(exc.url)

    @app.exception_handler(UiError)
    async def ui_error(request: Request, exc: UiError) -> Response:
        response = render(request, "error.html", exc.status, message=exc.message)
        response.headers.update(HEADERS)
        return response

    last_purge = [0.0]

    @app.middleware("http")
    async def ui_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        if request.url.path.startswith("/ui"):
            for key, value in HEADERS.items():
                response.headers.setdefault(key, value)
            if time.monotonic() - last_purge[0] > 60:  # retention: expired media go, at most once a minute
                last_purge[0] = time.monotonic()
                from fastapi.concurrency import run_in_threadpool

                from consentry.store.retention import purge_expired

                await run_in_threadpool(purge_expired, request.app.state.db)
        return response
