"""Stored items and their verdicts (``/v1/items``): the same JSON ``scans show --json``
prints (each item's stored result)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from consentry.service.auth import as_reader
from consentry.service.errors import ApiError
from consentry.store.tables.core import Item
from consentry.store.tables.verdicts import Verdict

router = APIRouter(prefix="/v1", tags=["items"])


@router.get("/items/{item_id}", dependencies=[as_reader])
def item(request: Request, item_id: int) -> dict[str, Any]:
    with request.app.state.db.session() as session:
        row = session.get(Item, item_id)
        if row is None:
            raise ApiError(404, f"no item {item_id}", "not_found")
        return {**(row.result or {}), "item_id": row.id, "scan_id": row.scan_id}


@router.get("/verdicts", dependencies=[as_reader])
def verdicts(request: Request, action: str | None = None, after_id: int = 0,
             limit: int = 100) -> list[dict[str, Any]]:
    """Decided items, oldest first after ``after_id``; ``action=review`` for the review queue."""
    query = select(Verdict).where(Verdict.item_id > after_id).order_by(Verdict.item_id)
    if action:
        query = query.where(Verdict.action == action)
    with request.app.state.db.session() as session:
        rows = session.scalars(query.limit(min(max(limit, 1), 1000))).all()
        return [{"item_id": v.item_id, "action": v.action, "priority": v.priority, "labels": v.labels,
                 "reasons": v.reasons, "missing_signals": v.missing_signals, "policy": v.policy,
                 "decided_at": v.decided_at} for v in rows]
