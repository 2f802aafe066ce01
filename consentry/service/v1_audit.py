"""The audit log for admins: rows (``consentry audit list --json`` prints the same) and a
verification of the whole chain."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder

from consentry.service.auth import as_admin
from consentry.store import audit

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit", dependencies=[as_admin])
def audit_rows(request: Request, after_id: int = 0, action: str | None = None, subject: str | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
    with request.app.state.db.session() as session:
        rows = audit.rows(session, action=action, subject=subject, after_id=after_id,
                          limit=min(max(limit, 1), 1000))
    return jsonable_encoder([r.as_json() for r in rows])


@router.get("/audit/verify", dependencies=[as_admin])
def verify(request: Request) -> dict[str, Any]:
    with request.app.state.db.session() as session:
        return audit.verify(session).as_json()
