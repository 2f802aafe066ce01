"""Case workers' routes (reviewer and operator keys; the browser's pages are in
consentry.service.ui.cases): list and read cases, add contact notes, record the victim's
consent to share, share a consented case's hashes to the partner feed, withdraw a case for a
victim who asked by phone. Every change is audited (consentry.actions.cases)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field

from consentry.actions import cases
from consentry.errors import ConfigError
from consentry.service.auth import Allow, Principal
from consentry.service.errors import ApiError
from consentry.service.v1_cases import where
from consentry.store.cases import CaseNotFound

router = APIRouter(prefix="/v1/casework", tags=["cases (case workers)"])
CASE_WORKERS = ("reviewer", "operator")
as_case_worker = Depends(Allow(*CASE_WORKERS))


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class ConsentIn(BaseModel):
    share: bool = Field(description="the victim agrees to share the case's hashes with partners")
    how: str = Field("", max_length=1000, description="how consent was given (by phone, signed form...)")


class StaffWithdrawIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except CaseNotFound as exc:
        raise ApiError(404, str(exc), "not_found") from None
    except ConfigError as exc:
        raise ApiError(409, str(exc), "conflict") from None


@router.get("/cases", dependencies=[as_case_worker])
async def list_cases(request: Request, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    if status is not None and status not in ("active", "withdrawn"):
        raise ApiError(400, "status is active or withdrawn", "bad_request")
    found = await _call(cases.listing, request.app.state.db, where(request), status=status,
                        limit=min(max(limit, 1), 5000))
    return jsonable_encoder([c.staff_json() for c in found])


@router.get("/cases/{case}", dependencies=[as_case_worker])
async def show_case(request: Request, case: int) -> dict[str, Any]:
    found, notes = await _call(cases.show, request.app.state.db, case, where(request))
    return jsonable_encoder({**found.staff_json(), "notes": [n.as_json() for n in notes]})


@router.post("/cases/{case}/notes", status_code=201)
async def add_note(request: Request, case: int, body: NoteIn,
                   who: Principal = as_case_worker) -> dict[str, Any]:
    await _call(cases.add_note, request.app.state.db, case, who.actor, body.text)
    return {"case": case, "noted": True}


@router.post("/cases/{case}/consent")
async def consent(request: Request, case: int, body: ConsentIn,
                  who: Principal = as_case_worker) -> dict[str, Any]:
    found = await _call(cases.record_consent, request.app.state.db, case, where(request),
                        actor=who.actor, given=body.share, how=body.how)
    request.app.state.lookup.load()
    return jsonable_encoder(found.staff_json())


@router.post("/cases/{case}/share")
async def share(request: Request, case: int, who: Principal = as_case_worker) -> dict[str, Any]:
    """Copy the case's active hashes into the share bank, which partners follow."""
    added = await _call(cases.share, request.app.state.db, case, where(request), actor=who.actor)
    request.app.state.lookup.load()
    return {"case": case, "bank": where(request).shared, "shared": added}


@router.post("/cases/{case}/withdraw")
async def staff_withdraw(request: Request, case: int, body: StaffWithdrawIn,
                         who: Principal = as_case_worker) -> dict[str, Any]:
    found = await _call(cases.withdraw, request.app.state.db, case, where(request), actor=who.actor,
                        reason=body.reason)
    request.app.state.lookup.load()
    return jsonable_encoder(found.staff_json())
