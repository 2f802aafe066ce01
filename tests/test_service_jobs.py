"""Durable jobs: an upload is a job before its 202; the runner takes it through the one
pipeline; GET /v1/jobs waits for it; a server killed with SIGKILL while jobs are queued and
running finishes every accepted job exactly once after a restart (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
warnings.filterwarnings("ignore", category=DeprecationWarning)

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from consentry.service import ServiceSettings, create_app  # noqa: E402
from consentry.service.jobs import JobRunner  # noqa: E402
from consentry.store import jobs as job_store  # noqa: E402
from consentry.store import keys  # noqa: E402
from consentry.store.db import open_database  # noqa: E402
from consentry.testing.samples import synthetic_scene  # noqa: E402
from tests.conftest import THREATEXCHANGE, free_port, left_in, need  # noqa: E402

PHOTO = THREATEXCHANGE / "pdq" / "data" / "bridge-mods" / "aaa-orig.jpg"


def _images(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"scene-{i}.jpg"
        synthetic_scene(seed=i).save(path, quality=90)
        paths.append(path)
    return paths


@pytest.fixture
def served(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    db = open_database(db_url)
    settings = ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0, job_poll_s=0.02,
                               scan_workers=1)
    app = create_app(db, settings)
    runner = JobRunner(db, settings)
    thread = threading.Thread(target=runner.run_forever, daemon=True)
    thread.start()
    token, _ = keys.create(db, "submit", "submitter", "tester")
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {token}"}, db, settings
    runner.stop.set()
    thread.join(10)
    db.close()


def test_scan_job_and_wait(served, run_cli) -> None:  # type: ignore[no-untyped-def]
    client, h, db, settings = served
    need(PHOTO)
    with open(PHOTO, "rb") as f:
        r = client.post("/v1/scan", files={"file": ("upload.txt", f, "text/plain")},
                        data={"signals": "hash", "external_id": "post-17"}, headers=h)
    assert r.status_code == 202
    job_id = r.json()["job_id"]
    done = client.get(f"/v1/jobs/{job_id}", params={"wait": 30}, headers=h)
    assert done.status_code == 200, done.json()
    body = done.json()
    assert body["status"] == "done" and body["external_id"] == "post-17"
    result = body["result"]
    assert result["pdq"]["hash"] == "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    assert result["item_id"] and result["job_id"] == job_id
    assert left_in(settings.spool_dir / "jobs") == []  # the bytes left with the job
    # the same JSON as the CLI for the same file (but the path, ids and scan)
    cli = run_cli("scan", "--json", "--signals", "hash", str(PHOTO), db=db.url).lines[0]
    skip = {"path", "item_id", "scan_id", "job_id", "external_id"}
    assert ({k: v for k, v in result.items() if k not in skip}
            == {k: v for k, v in cli.items() if k not in skip})
    # synchronous
    with open(PHOTO, "rb") as f:
        sync = client.post("/v1/scan?wait=30", files={"file": f}, data={"signals": "hash"}, headers=h)
    assert sync.status_code == 200 and sync.json()["result"]["pdq"] == result["pdq"]
    # someone else's job is not shown to a submitter
    other, _ = keys.create(db, "other", "submitter", "tester")
    assert client.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {other}"}).status_code == 404
    assert client.get("/v1/jobs/nope", headers=h).status_code == 404


def test_bad_uploads_are_refused_before_a_job(served) -> None:  # type: ignore[no-untyped-def]
    client, h, db, _settings = served
    r = client.post("/v1/scan", files={"file": ("a.jpg", b"MZ\x90\x00 not media", "image/jpeg")}, headers=h)
    assert r.status_code == 415
    assert client.post("/v1/scan", files={"file": ("a.jpg", b"\xff\xd8\xff\xe0", "image/jpeg")},
                       data={"signals": "nope"}, headers=h).status_code == 400
    assert client.post("/v1/scan", files={"file": ("a.jpg", b"\xff\xd8\xff\xe0", "image/jpeg")},
                       data={"policy": "nope"}, headers=h).status_code == 400
    assert job_store.depth(db) == {"queued": 0, "running": 0}
    # an unreadable image (sniffed as JPEG) is accepted and ends as an item with an error
    corrupt = b"\xff\xd8\xff\xe0" + b"\0" * 100
    r = client.post("/v1/scan?wait=30", files={"file": ("a.jpg", corrupt)}, headers=h)
    assert r.status_code == 200 and r.json()["result"]["status"] == "error"


def test_runners_share_the_queue_without_taking_a_job_twice(db_url: str, tmp_path: Path) -> None:
    db = open_database(db_url)
    settings = ServiceSettings(spool_dir=tmp_path / "spool", job_batch=2, scan_workers=1)
    images = _images(tmp_path / "in", 6)
    for path in images:
        job_id = job_store.new_job_id()
        spooled = settings.spool_dir / job_id
        spooled.parent.mkdir(parents=True, exist_ok=True)
        spooled.write_bytes(path.read_bytes())
        job_store.enqueue(db, job_id, spool_path=str(spooled), size=spooled.stat().st_size, key_id=None,
                          external_id=path.name, signals=("hash",), policy=None)
    claims: list[list[str]] = []
    lock = threading.Lock()

    def claim(name: str) -> None:
        while taken := job_store.claim(db, name, 1, 60):
            with lock:
                claims.append([j.job_id for j in taken])

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [j for batch in claims for j in batch]
    assert len(ids) == len(set(ids)) == 6
    db.close()



def _start(db_url: str, port: int, spool: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "consentry", "--db", db_url, "serve", "--host", "127.0.0.1", "--port",
         str(port), "--spool", str(spool), "--rate-per-minute", "0", "--job-lease-seconds", "3"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not become ready")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def test_sigkill_with_queued_and_running_jobs_then_restart(backend: str, request: pytest.FixtureRequest,
                                                           tmp_path: Path) -> None:
    """PostgreSQL's run (leases lapse instead of a start-up re-queue) is slow: --run-slow."""
    url = f"sqlite:///{tmp_path / 'c.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    db = open_database(url)
    token, _ = keys.create(db, "submit", "submitter", "tester")
    h = {"Authorization": f"Bearer {token}"}
    images = _images(tmp_path / "in", 12)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    spool = tmp_path / "spool"
    proc = _start(db.url, port, spool)
    accepted: list[str] = []
    try:
        _ready(base, proc)
        with httpx.Client(base_url=base, headers=h, timeout=30) as client:
            for path in images:
                r = client.post("/v1/scan", files={"file": path.read_bytes()}, data={"signals": "hash"})
                assert r.status_code == 202
                accepted.append(r.json()["job_id"])
        deadline = time.monotonic() + 30  # kill once some are done or running, some queued
        while time.monotonic() < deadline:
            depth = job_store.depth(db)
            if depth["running"] or depth["queued"] < len(accepted):
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    states = {job_id: job_store.get(db, job_id).status for job_id in accepted}  # type: ignore[union-attr]
    assert "done" not in states.values() or set(states.values()) != {"done"}, "killed too late"
    proc = _start(db.url, port, spool)
    try:
        _ready(base, proc)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and job_store.depth(db) != {"queued": 0, "running": 0}:
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    finished = [job_store.get(db, job_id) for job_id in accepted]
    assert all(j is not None and j.status == "done" and j.result for j in finished), \
        [(j.job_id, j.status, j.error) for j in finished if j]
    # exactly once: each job has one result, and each stored result is its own item
    item_ids = [j.item_id for j in finished if j]
    assert len(set(item_ids)) == len(accepted)
    assert not [p for p in (spool / "jobs").iterdir()]
    db.close()
