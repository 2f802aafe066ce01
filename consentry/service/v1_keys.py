"""API keys for admins (``consentry key`` does the same on the server): create (the key is
in the answer, once), list, revoke, and partner feed grants."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder

from consentry.match.banks import service as banks
from consentry.service.auth import Principal, as_admin
from consentry.service.schemas import GrantIn, KeyCreate
from consentry.store import keys

router = APIRouter(prefix="/v1", tags=["keys"])


@router.get("/keys", dependencies=[as_admin])
def list_keys(request: Request) -> list[dict[str, Any]]:
    return jsonable_encoder([k.as_json() for k in keys.list_keys(request.app.state.db)])


@router.post("/keys", status_code=201)
def create_key(request: Request, body: KeyCreate, who: Principal = as_admin) -> dict[str, Any]:
    key, info = keys.create(request.app.state.db, body.name, body.role, who.actor,
                            expires_at=body.expires_at, rate_per_minute=body.rate_per_minute)
    return jsonable_encoder({"key": key, **info.as_json()})


@router.delete("/keys/{key_id}")
def revoke_key(request: Request, key_id: str, who: Principal = as_admin) -> dict[str, Any]:
    info = keys.revoke(request.app.state.db, key_id, who.actor)
    request.app.state.keys.forget(key_id)
    return jsonable_encoder(info.as_json())


@router.post("/keys/{key_id}/grants", status_code=201)
def grant(request: Request, key_id: str, body: GrantIn, who: Principal = as_admin) -> dict[str, Any]:
    banks.require(request.app.state.db, body.bank)
    keys.grant_feed(request.app.state.db, key_id, body.bank, who.actor)
    request.app.state.keys.forget(key_id)
    return {"key_id": key_id, "bank": body.bank}


@router.delete("/keys/{key_id}/grants/{bank}")
def ungrant(request: Request, key_id: str, bank: str, who: Principal = as_admin) -> dict[str, Any]:
    keys.revoke_feed(request.app.state.db, key_id, bank, who.actor)
    request.app.state.keys.forget(key_id)
    return {"key_id": key_id, "bank": bank, "revoked": True}
