"""Case workers' pages: the list of victims' cases and one case's page (its status, matches
per day, contact notes, the victim's consent to share, sharing to the partner feed and
withdrawal), with the same rules as the API (consentry.actions.cases). Like every /ui route:
signed in, the role checked, CSRF on each form, everything escaped by the templates. A case
holds no media, so there is nothing to blur here."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from consentry.actions import cases
from consentry.errors import ConfigError
from consentry.service.auth import public
from consentry.service.ui.web import Signed, UiError, checked_form, redirect, render
from consentry.service.v1_cases import where
from consentry.store.cases import STATUSES, CaseNotFound
from consentry.store.review import SignIn

router = APIRouter(prefix="/ui/cases", dependencies=[public], include_in_schema=False)
CASE_WORKERS = ("reviewer", "senior_reviewer", "operator")
case_worker = Depends(Signed(*CASE_WORKERS))


def _number(case: str) -> int:
    if not case.isdigit() or len(case) > 12:
        raise UiError(404, "no such case")
    return int(case)


async def _run(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except CaseNotFound:
        raise UiError(404, "no such case") from None
    except ConfigError as exc:
        raise UiError(409, str(exc)) from None


@router.get("")
async def case_list(request: Request, status: str = "", signin: SignIn = case_worker) -> Response:
    chosen = status if status in STATUSES else None
    found = await _run(cases.listing, request.app.state.db, where(request), status=chosen)
    return render(request, "cases.html", cases=found, chosen=chosen or "")


@router.get("/{case}")
async def case_page(request: Request, case: str, signin: SignIn = case_worker) -> Response:
    found, notes = await _run(cases.show, request.app.state.db, _number(case), where(request))
    return render(request, "case.html", case=found, notes=notes, share_bank=where(request).shared)


@router.post("/{case}/note")
async def note(request: Request, case: str, signin: SignIn = case_worker) -> Response:
    form = await checked_form(request, signin)
    number = _number(case)
    text = form.get("text", "").strip()
    if not text or len(text) > 4000:
        raise UiError(400, "a note is 1-4000 characters")
    await _run(cases.add_note, request.app.state.db, number, signin.person.actor, text)
    return redirect(f"/ui/cases/{number}")


@router.post("/{case}/consent")
async def consent(request: Request, case: str, signin: SignIn = case_worker) -> Response:
    form = await checked_form(request, signin)
    number = _number(case)
    given = form.get("share") == "yes"
    await _run(cases.record_consent, request.app.state.db, number, where(request),
               actor=signin.person.actor, given=given, how=form.get("how", ""))
    request.app.state.lookup.load()
    return redirect(f"/ui/cases/{number}")


@router.post("/{case}/share")
async def share(request: Request, case: str, signin: SignIn = case_worker) -> Response:
    await checked_form(request, signin)
    number = _number(case)
    await _run(cases.share, request.app.state.db, number, where(request), actor=signin.person.actor)
    request.app.state.lookup.load()
    return redirect(f"/ui/cases/{number}")


@router.post("/{case}/withdraw")
async def withdraw(request: Request, case: str, signin: SignIn = case_worker) -> Response:
    form = await checked_form(request, signin)
    number = _number(case)
    reason = form.get("reason", "").strip()
    if not reason or len(reason) > 1000:
        raise UiError(400, "say why the case is withdrawn (1-1000 characters)")
    await _run(cases.withdraw, request.app.state.db, number, where(request), actor=signin.person.actor,
               reason=reason)
    request.app.state.lookup.load()
    return redirect(f"/ui/cases/{number}")
