"""Review through the API: ``POST /v1/items/{item_id}/decision`` (reviewer keys; the same
rules as the browser: an API key is never a senior reviewer, so escalated and appealed items
are decided in /ui), ``POST /v1/items/{item_id}/appeal`` (the uploader's key, or an
operator's), and ``GET /v1/items/{item_id}/review`` (the case and its decisions)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from consentry.service.auth import Allow, Principal, as_reader
from consentry.service.errors import ApiError
from consentry.service.ui.decisions import DecisionError, allowed, appeal, decide
from consentry.store import review as review_store
from consentry.store.tables.core import Item

router = APIRouter(prefix="/v1", tags=["review"])
as_reviewer_key = Depends(Allow("reviewer"))
as_appellant = Depends(Allow("submitter", "operator", "admin"))


class DecisionBody(BaseModel):
    decision: Literal["confirm", "reject", "escalate"]
    bank: str | None = Field(None, max_length=100, description="confirm: the bank the hashes go "
                             "into; reject: an allow bank (optional)")
    label: str | None = Field(None, max_length=100)
    note: str | None = Field(None, max_length=4000, description="why")


class AppealBody(BaseModel):
    reason: str = Field(..., min_length=1, max_length=4000)


def _vault(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.review.vault(request.app.state.db, request.app.state.settings.spool_dir)


@router.post("/items/{item_id}/decision")
async def decision(request: Request, item_id: int, body: DecisionBody,
                   who: Principal = as_reviewer_key) -> dict[str, Any]:
    """Confirm (hashes into ``bank``, labelled), reject (optionally into an allow bank) or
    escalate an item waiting for review. Fires the ``decision`` webhook."""
    try:
        outcome = await run_in_threadpool(
            lambda: decide(request.app.state.db, item_id, body.decision, actor=who.actor, role="reviewer",
                           reviewer_name=None, bank=body.bank, label=body.label, note=body.note,
                           vault=_vault(request)))
    except DecisionError as exc:
        raise ApiError(exc.status, exc.message, _code(exc.status)) from None
    return outcome.as_json()


@router.post("/items/{item_id}/appeal")
async def item_appeal(request: Request, item_id: int, body: AppealBody,
                      who: Principal = as_appellant) -> dict[str, Any]:
    """Reopen a confirmed item for a senior reviewer who took no part in it."""
    try:
        outcome = await run_in_threadpool(
            lambda: appeal(request.app.state.db, item_id, actor=who.actor, key_id=who.key.key_id,
                           role=who.role, reason=body.reason, vault=_vault(request)))
    except DecisionError as exc:
        raise ApiError(exc.status, exc.message, _code(exc.status)) from None
    return outcome.as_json()


@router.get("/items/{item_id}/review", dependencies=[as_reader])
def review(request: Request, item_id: int) -> dict[str, Any]:
    with request.app.state.db.session() as session:
        if session.get(Item, item_id) is None:
            raise ApiError(404, f"no item {item_id}", "not_found")
        state = review_store.state_of(session, item_id)
        return {"item_id": item_id, "state": state, "decisions": review_store.decisions(session, item_id),
                "possible": {"reviewer": list(allowed(state, "reviewer")),
                             "senior_reviewer": list(allowed(state, "senior_reviewer"))}}


def _code(status: int) -> str:
    return {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict"}.get(status, "error")
