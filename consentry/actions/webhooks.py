"""Webhooks: a Sink that turns decided items into ``verdict`` events, and their delivery.

Each event is queued as a delivery row (the exact body that will be signed), so a crash
loses none. Delivery POSTs the body with ``X-Consentry-Event``, ``X-Consentry-Timestamp``
and ``X-Consentry-Signature: sha256=<hex HMAC-SHA256 of timestamp + "." + body>`` (keyed
with the webhook's secret); a failure is retried with exponential backoff, and after the
last try the delivery is dead: listed and replayed by ``consentry webhook dead``/``replay``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from consentry.errors import ConfigError
from consentry.store import audit
from consentry.store.db import Database
from consentry.store.tables.core import utcnow
from consentry.store.tables.service import Webhook, WebhookDelivery
from consentry.types import ItemReport, ScanSummary

EVENTS = ("verdict", "decision")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class WebhookInfo:
    webhook_id: int
    url: str
    events: tuple[str, ...]
    enabled: bool

    def as_json(self) -> dict[str, Any]:  # the secret never leaves
        return {"webhook_id": self.webhook_id, "url": self.url, "events": list(self.events),
                "enabled": self.enabled}


@dataclass(frozen=True)
class DeliveryInfo:
    delivery_id: int
    webhook_id: int
    event: str
    status: str
    attempts: int
    last_error: str | None

    def as_json(self) -> dict[str, Any]:
        return {"delivery_id": self.delivery_id, "webhook_id": self.webhook_id, "event": self.event,
                "status": self.status, "attempts": self.attempts, "last_error": self.last_error}


def add_webhook(db: Database, url: str, secret: str, events: Sequence[str], actor: str) -> WebhookInfo:
    if not url.startswith(("http://", "https://")):
        raise ConfigError("a webhook URL starts with http:// or https://")
    unknown = set(events) - set(EVENTS)
    if unknown or not events:
        raise ConfigError(f"events are some of: {', '.join(EVENTS)}")
    if len(secret) < 16:
        raise ConfigError("a webhook secret is at least 16 characters")
    with db.session() as session:
        row = Webhook(url=url, secret=secret, events=list(events), enabled=True, created_by=actor)
        session.add(row)
        session.flush()
        audit.record(session, actor, "webhook.add", f"webhook:{row.id}", url=url, events=list(events))
        return WebhookInfo(row.id, row.url, tuple(row.events), row.enabled)


def list_webhooks(db: Database) -> list[WebhookInfo]:
    with db.session() as session:
        return [WebhookInfo(w.id, w.url, tuple(w.events), w.enabled)
                for w in session.scalars(select(Webhook).order_by(Webhook.id))]


def remove_webhook(db: Database, webhook_id: int, actor: str) -> None:
    with db.session() as session:
        row = session.get(Webhook, webhook_id)
        if row is None:
            raise ConfigError(f"no webhook {webhook_id}")
        audit.record(session, actor, "webhook.remove", f"webhook:{webhook_id}", url=row.url)
        session.delete(row)


def queue_event(db: Database, event: str, payloads: Sequence[dict[str, Any]]) -> int:
    """Queue one delivery per subscribed webhook per payload; returns how many."""
    if not payloads:
        return 0
    with db.session() as session:
        hooks = [w for w in session.scalars(select(Webhook).where(Webhook.enabled.is_(True)))
                 if event in (w.events or [])]
        for hook in hooks:
            for payload in payloads:
                body = json.dumps({"event": event, **payload}, ensure_ascii=False, default=str,
                                  sort_keys=True)
                session.add(WebhookDelivery(webhook_id=hook.id, event=event, body=body,
                                            status="pending", attempts=0, next_at=utcnow()))
        return len(hooks) * len(payloads)


class WebhookSink:
    """Queues a ``verdict`` event for every decided item (written at each flush)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pending: list[dict[str, Any]] = []

    def start(self, scan_id: int, total: int | None) -> None:
        pass

    def item(self, report: ItemReport) -> None:
        if report.verdict is not None:
            self.pending.append({"item": report.as_json()})

    def flush(self) -> None:
        payloads, self.pending = self.pending, []
        queue_event(self.db, "verdict", payloads)

    def finish(self, summary: ScanSummary) -> None:
        self.flush()


def deliver_due(db: Database, *, retries: int = 5, backoff_s: float = 1.0, timeout_s: float = 10.0,
                limit: int = 100) -> int:
    """Try every pending delivery that is due; returns how many were delivered."""
    import httpx

    now = utcnow()
    with db.session() as session:
        rows = session.execute(
            select(WebhookDelivery, Webhook).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_at <= now)
            .order_by(WebhookDelivery.id).limit(limit)).all()
        due = [(d.id, d.event, d.body, d.attempts, w.url, w.secret) for d, w in rows]
    if not due:  # an HTTP client loads the CA store (~10-20 ms CPU): not every half second
        return 0
    delivered = 0
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for delivery_id, event, body, attempts, url, secret in due:
            stamp = str(int(time.time()))
            data = body.encode()
            error: str | None = None
            try:
                response = client.post(url, content=data, headers={
                    "Content-Type": "application/json", "X-Consentry-Event": event,
                    "X-Consentry-Timestamp": stamp,
                    "X-Consentry-Signature": signature(secret, stamp, data)})
                if not 200 <= response.status_code < 300:
                    error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            attempts += 1
            values: dict[str, Any] = {"attempts": attempts, "last_error": error}
            if error is None:
                values.update(status="delivered", delivered_at=utcnow())
                delivered += 1
            elif attempts >= retries:
                values.update(status="dead")
            else:
                values.update(next_at=utcnow() + timedelta(seconds=backoff_s * 2 ** (attempts - 1)))
            with db.session() as session:
                session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                                .values(**values))
    return delivered


def deliveries(db: Database, status: str | None = "dead", limit: int = 100) -> list[DeliveryInfo]:
    with db.session() as session:
        query = select(WebhookDelivery).order_by(WebhookDelivery.id).limit(limit)
        if status:
            query = query.where(WebhookDelivery.status == status)
        return [DeliveryInfo(d.id, d.webhook_id, d.event, d.status, d.attempts, d.last_error)
                for d in session.scalars(query)]


def replay(db: Database, delivery_ids: Sequence[int] | None, actor: str) -> int:
    """Put dead deliveries (these, or all) back in the queue with a fresh set of tries."""
    with db.session() as session:
        query = update(WebhookDelivery).where(WebhookDelivery.status == "dead")
        if delivery_ids is not None:
            query = query.where(WebhookDelivery.id.in_(list(delivery_ids)))
        n = int(session.execute(query.values(status="pending", attempts=0, next_at=utcnow()))
                .rowcount)  # type: ignore[attr-defined]
        audit.record(session, actor, "webhook.replay", "webhooks", deliveries=n)
        return n


