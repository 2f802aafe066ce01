"""Webhooks (``consentry webhook`` does the same): add, list, remove; dead letters, replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from consentry.actions import webhooks
from consentry.service.auth import Principal, as_manager
from consentry.service.schemas import ReplayIn, WebhookIn

router = APIRouter(prefix="/v1", tags=["webhooks"])


@router.get("/webhooks", dependencies=[as_manager])
def list_hooks(request: Request) -> list[dict[str, Any]]:
    return [w.as_json() for w in webhooks.list_webhooks(request.app.state.db)]


@router.post("/webhooks", status_code=201)
def add_hook(request: Request, body: WebhookIn, who: Principal = as_manager) -> dict[str, Any]:
    return webhooks.add_webhook(request.app.state.db, body.url, body.secret, body.events, who.actor).as_json()


@router.delete("/webhooks/{webhook_id}")
def remove_hook(request: Request, webhook_id: int, who: Principal = as_manager) -> dict[str, Any]:
    webhooks.remove_webhook(request.app.state.db, webhook_id, who.actor)
    return {"webhook_id": webhook_id, "removed": True}


@router.get("/webhooks/deliveries", dependencies=[as_manager])
def deliveries(request: Request, status: str = "dead", limit: int = 100) -> list[dict[str, Any]]:
    return [d.as_json() for d in webhooks.deliveries(request.app.state.db, status or None, limit)]


@router.post("/webhooks/replay")
def replay(request: Request, body: ReplayIn, who: Principal = as_manager) -> dict[str, Any]:
    return {"replayed": webhooks.replay(request.app.state.db, body.delivery_ids, who.actor)}
