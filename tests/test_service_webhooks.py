"""Webhooks against a real HTTP receiver on 127.0.0.1: signed verdict events from a scan job,
retries with backoff, dead letters listed and replayed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("httpx")

from consentry.actions import webhooks
from consentry.service.config import ServiceSettings
from consentry.service.jobs import JobRunner
from consentry.store import jobs as job_store
from consentry.store.db import open_database
from consentry.testing.samples import synthetic_scene

SECRET = "a-secret-of-enough-length"


class Receiver:
    """An HTTP server that records what it is sent and answers ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    r = Receiver()
    yield r
    r.close()


def test_verdict_events_are_signed_retried_and_replayed(db_url: str, tmp_path: Path, receiver: Receiver,
                                                        run_cli) -> None:  # type: ignore[no-untyped-def]
    db = open_database(db_url)
    added = run_cli("--json", "webhook", "add", receiver.url, "--secret", SECRET, "--events", "verdict",
                    db=db.url)
    assert added.code == 0, added.stderr
    assert "secret" not in added.lines[0]
    settings = ServiceSettings(spool_dir=tmp_path / "spool", scan_workers=1)
    spooled = settings.spool_dir / "one.jpg"
    spooled.parent.mkdir(parents=True)
    synthetic_scene(seed=3).save(spooled, quality=90)
    job_id = job_store.new_job_id()
    job_store.enqueue(db, job_id, spool_path=str(spooled), size=spooled.stat().st_size, key_id=None,
                      external_id="e1", signals=("hash",), policy=None)
    assert JobRunner(db, settings, extra_sinks=(webhooks.WebhookSink(db),)).run_once() == 1

    assert webhooks.deliver_due(db, retries=3, backoff_s=0.0) == 1
    headers, body = receiver.received[0]
    assert headers["x-consentry-event"] == "verdict"
    stamp = headers["x-consentry-timestamp"]
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["x-consentry-signature"] == f"sha256={expected}"
    event = json.loads(body)
    assert event["event"] == "verdict" and event["item"]["verdict"]["action"] == "allow"
    assert event["item"]["item_id"] == job_store.get(db, job_id).item_id  # type: ignore[union-attr]

    # the receiver fails: retried, then dead; replayed once it is back
    receiver.status = 500
    webhooks.queue_event(db, "verdict", [{"item": {"item_id": 99}}])
    for _ in range(3):
        webhooks.deliver_due(db, retries=3, backoff_s=0.0)
    dead = run_cli("--json", "webhook", "dead", db=db.url).lines
    assert len(dead) == 1 and dead[0]["attempts"] == 3 and dead[0]["last_error"] == "HTTP 500"
    n_before = len(receiver.received)
    assert n_before == 4
    receiver.status = 204
    assert run_cli("--json", "webhook", "replay", db=db.url).lines == [{"replayed": 1}]
    assert webhooks.deliver_due(db, retries=3, backoff_s=0.0) == 1
    assert json.loads(receiver.received[-1][1])["item"] == {"item_id": 99}
    assert webhooks.deliveries(db, "dead") == []
    db.close()


def test_backoff_waits_between_tries(db_url: str, receiver: Receiver) -> None:
    db = open_database(db_url)
    webhooks.add_webhook(db, receiver.url, SECRET, ["verdict"], "tester")
    receiver.status = 503
    webhooks.queue_event(db, "verdict", [{"item": {}}])
    webhooks.deliver_due(db, retries=5, backoff_s=3600.0)
    webhooks.deliver_due(db, retries=5, backoff_s=3600.0)  # not due again for an hour
    assert len(receiver.received) == 1
    [pending] = webhooks.deliveries(db, "pending")
    assert pending.attempts == 1 and pending.last_error == "HTTP 503"
    with pytest.raises(Exception, match="secret"):
        webhooks.add_webhook(db, receiver.url, "short", ["verdict"], "tester")
    db.close()
