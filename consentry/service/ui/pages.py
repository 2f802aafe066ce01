"""Sign-in, the queue, the reviewer's own settings, the break, and the UI's static files.

Every route carries the ``public`` marker for the service's key checks (tests/test_service.py:
a /ui route needs no API key) and does its own sign-in check with ``Signed``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select

from consentry.service.auth import public
from consentry.service.ui import evidence as ev
from consentry.service.ui.media import BLUR_CHOICES
from consentry.service.ui.web import (
    COOKIE,
    HERE,
    LOGIN_COOKIE,
    Signed,
    UiError,
    checked_form,
    new_login_token,
    redirect,
    render,
    set_cookie,
)
from consentry.store import audit
from consentry.store import review as review_store
from consentry.store.review import PEOPLE_ROLES, SignIn
from consentry.store.tables.service import Job

router = APIRouter(prefix="/ui", dependencies=[public], include_in_schema=False)
anyone = Depends(Signed(*PEOPLE_ROLES))
FILTERS = ("bank", "signal", "reason", "source", "since", "until")


@router.get("")
def home() -> Response:
    return redirect("/ui/queue")


@router.get("/static/review.css")
def css() -> Response:
    return Response((HERE / "static" / "review.css").read_bytes(), media_type="text/css")


@router.get("/static/review.js")
def js() -> Response:
    return Response((HERE / "static" / "review.js").read_bytes(), media_type="text/javascript")


@router.get("/login")
def login_page(request: Request, next: str = "/ui/queue", e: str = "") -> Response:
    token = new_login_token()
    messages = {"expired": "The sign-in form expired. Please try again.",
                "bad": "Wrong name or password.",
                "locked": "Too many failed sign-ins for this name. Wait, then try again.",
                "busy": "Too many failed sign-ins from this address. Wait, then try again.",
                "out": "You are signed out."}
    response = render(request, "login.html", login_csrf=token, next=_safe_next(next),
                      message=messages.get(e, ""))
    set_cookie(response, LOGIN_COOKIE, token, request, 600)
    return response


def _safe_next(target: str) -> str:
    """Only a path of this UI: never another site (an open redirect)."""
    ours = target.startswith("/ui/") and not target.startswith("//") and "\\" not in target
    return target if ours else "/ui/queue"


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/ui/queue")))
    sent, cookie = str(form.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
    import hmac

    if not sent or not cookie or not hmac.compare_digest(sent, cookie):
        return redirect("/ui/login?e=expired")
    db, review = request.app.state.db, request.app.state.review
    if not name or len(name) > 100:
        return redirect("/ui/login?e=bad")
    address = _address(request)
    from_here = await run_in_threadpool(review_store.failed_signins_from, db, address,
                                        review.signin_window_s)
    if from_here >= review.signin_failures_per_address:
        await run_in_threadpool(_audit, db, "ui.signin_locked", name, request, limit="address")
        return redirect("/ui/login?e=busy")
    failures = await run_in_threadpool(review_store.failed_signins, db, name, review.signin_window_s)
    if failures >= review.signin_failures:
        await run_in_threadpool(_audit, db, "ui.signin_locked", name, request, limit="name")
        return redirect("/ui/login?e=locked")
    person = await run_in_threadpool(review_store.check_password, db, name, password)
    if person is None:
        await run_in_threadpool(_audit, db, "ui.signin_failed", name, request)
        return redirect("/ui/login?e=bad")
    token = await run_in_threadpool(review_store.start_session, db, person, review.session_max_s)
    response = redirect(target)
    set_cookie(response, COOKIE, token, request, int(review.session_max_s))
    response.delete_cookie(LOGIN_COOKIE, path="/ui")
    return response


def _address(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: run uvicorn with the
    proxy's --forwarded-allow-ips so this is the real client, not the proxy)."""
    return request.client.host if request.client else "?"


def _audit(db, action: str, name: str, request: Request, **details: str) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        audit.record(session, f"ui:{_address(request)}", action, f"person:{name}", **details)


@router.post("/logout")
async def logout(request: Request, signin: SignIn = anyone) -> Response:
    await checked_form(request, signin)
    await run_in_threadpool(review_store.end_session, request.app.state.db, signin.session_id)
    response = redirect("/ui/login?e=out")
    response.delete_cookie(COOKIE, path="/ui")
    return response


@router.post("/break")
async def take_break(request: Request, signin: SignIn = anyone) -> Response:
    await checked_form(request, signin)
    await run_in_threadpool(review_store.take_break, request.app.state.db, signin.session_id)
    return redirect("/ui/queue")


@router.get("/settings")
def settings_page(request: Request, signin: SignIn = anyone) -> Response:
    return render(request, "settings.html", choices=BLUR_CHOICES, current=signin.person.blur_percent)


@router.post("/settings")
async def save_settings(request: Request, signin: SignIn = anyone) -> Response:
    form = await checked_form(request, signin)
    try:
        percent = int(form.get("blur", ""))
    except ValueError:
        percent = -1
    if percent not in BLUR_CHOICES:
        raise UiError(400, f"blur is one of {', '.join(map(str, BLUR_CHOICES))} percent")
    await run_in_threadpool(review_store.set_blur, request.app.state.db, signin.person, percent)
    return redirect("/ui/settings")


def _date(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None
    except ValueError:
        raise UiError(400, "dates are YYYY-MM-DD") from None


def queue_rows(db, role: str, filters: dict[str, str]) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    since, until = _date(filters.get("since", "")), _date(filters.get("until", ""))
    if until is not None:
        until += timedelta(days=1)
    with db.session() as session:
        rows = review_store.queue(session, role=role, since=since, until=until)
        from_api = set(session.scalars(select(Job.item_id).where(Job.item_id.in_([r.item_id for r in rows]))))
    out = []
    for row in rows:
        banks = sorted({str(m.get("bank")) for m in row.result.get("matches") or []})
        signals = ev.signals_with_findings(row.result)
        codes = ev.reason_codes(row.reasons)
        source = "api" if row.item_id in from_api else "scan"
        if ((filters.get("bank") and filters["bank"] not in banks)
                or (filters.get("signal") and filters["signal"] not in signals)
                or (filters.get("reason") and filters["reason"] not in codes)
                or (filters.get("source") and filters["source"] != source)):
            continue
        out.append({"row": row, "banks": banks, "signals": signals, "codes": codes, "source": source,
                    "name": "API upload" if source == "api" else row.path.rsplit("/", 1)[-1]})
    return out


@router.get("/queue")
def queue_page(request: Request, signin: SignIn = anyone) -> Response:
    filters = {k: request.query_params.get(k, "").strip()[:100] for k in FILTERS}
    rows = queue_rows(request.app.state.db, signin.person.role, filters)
    return render(request, "queue.html", rows=rows, filters=filters, me=signin.person.name,
                  now=datetime.now(UTC))
