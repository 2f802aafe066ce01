"""Running the service: uvicorn for HTTP (``--workers`` processes, each building the app from
the environment), job worker processes that run the pipeline and deliver webhooks, and the
start-up recovery of jobs a killed server left running."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

from fastapi import FastAPI

from consentry.service.config import ServiceSettings
from consentry.store import jobs as job_store
from consentry.store.db import Database

log = logging.getLogger(__name__)
SETTINGS_ENV = "CONSENTRY_SERVICE_SETTINGS"


def _settings_to_env(settings: ServiceSettings) -> str:
    data = asdict(settings)
    data["spool_dir"] = str(settings.spool_dir)
    data["policies"] = {k: str(v) for k, v in settings.policies.items()}
    return json.dumps(data)


def _settings_from_env() -> ServiceSettings:
    data = json.loads(os.environ[SETTINGS_ENV])
    data["spool_dir"] = Path(data["spool_dir"])
    data["policies"] = {k: Path(v) for k, v in data["policies"].items()}
    data["url_allow_hosts"] = tuple(data.get("url_allow_hosts", ()))
    return ServiceSettings(**data)


def url_fetch_from_env(settings: ServiceSettings) -> ServiceSettings:
    """URL fetching as the operator set it: CONSENTRY_URL_FETCH_HOSTS (comma-separated names,
    ".example.org" for subdomains; set: on), CONSENTRY_URL_FETCH_MAX_MB, _TIMEOUT_S, and the
    UNSAFE CONSENTRY_URL_FETCH_UNSAFE_LOOPBACK=1 (tests on one machine only)."""
    hosts = tuple(h.strip().lower() for h in os.environ.get("CONSENTRY_URL_FETCH_HOSTS", "").split(",")
                  if h.strip())
    if not hosts:
        return settings
    return replace(settings, url_fetch=True, url_allow_hosts=hosts,
                   url_max_bytes=int(float(os.environ.get("CONSENTRY_URL_FETCH_MAX_MB", "50")) * 1024**2),
                   url_timeout_s=float(os.environ.get("CONSENTRY_URL_FETCH_TIMEOUT_S", "20")),
                   url_allow_loopback_unsafe=os.environ.get("CONSENTRY_URL_FETCH_UNSAFE_LOOPBACK") == "1")


def app_from_env() -> FastAPI:
    """uvicorn's factory in each HTTP worker process."""
    from consentry.service.app import create_app
    from consentry.store.db import open_database

    return create_app(open_database(os.environ["CONSENTRY_DB"]), _settings_from_env())


def _job_worker(db_url: str, settings_json: str, parent: int) -> None:
    os.environ[SETTINGS_ENV] = settings_json
    from consentry.actions.webhooks import deliver_due
    from consentry.service.jobs import run_job_worker
    from consentry.store.db import open_database

    settings = _settings_from_env()
    db = open_database(db_url)

    def deliveries() -> None:
        stop = threading.Event()
        while not stop.wait(settings.webhook_backoff_s / 2 or 0.5):
            try:
                deliver_due(db, retries=settings.webhook_retries, backoff_s=settings.webhook_backoff_s)
            except Exception:
                log.exception("webhook delivery failed; retrying")

    def orphaned() -> None:  # the server died (even by SIGKILL): stop, its jobs' leases lapse
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=deliveries, daemon=True).start()
    threading.Thread(target=orphaned, daemon=True).start()
    run_job_worker(db_url, settings)


def sweep_spool(db: Database, folder: Path, *, orphan_age_s: float = 3600.0) -> int:
    """Delete spooled uploads whose job has ended (a server killed between ending a job and
    deleting its bytes leaves them), and uploads without a job row older than an hour (a
    server killed while an upload was coming in). Returns how many were deleted."""
    files = [p for p in folder.glob("*") if p.is_file()] if folder.is_dir() else []
    names = [p.name for p in files]
    ended, known = job_store.ended_ids(db, names), job_store.known_ids(db, names)
    now = time.time()
    n = 0
    for path in files:
        orphan = path.name not in known and now - path.stat().st_mtime > orphan_age_s
        if path.name in ended or orphan:
            path.unlink(missing_ok=True)
            n += 1
    return n


def recover_jobs(db: Database) -> int:
    """SQLite has one server: a job still running at start belonged to a process that died."""
    if db.dialect == "sqlite":
        return job_store.release_worker(db)
    return 0  # PostgreSQL: other servers may be running them; their leases expire instead


def serve(db: Database, *, host: str, port: int, workers: int, job_workers: int, spool_dir: Path,
          max_upload_bytes: int, rate_per_minute: int, job_lease_s: float = 60.0,
          engine: str = "local", ray_address: str | None = None) -> None:
    import uvicorn

    # Each job worker analyses in its own process (scan_workers=0): that process is the
    # boundary a hostile file can crash (memory-capped, with a watchdog: consentry.service.jobs),
    # so no analysis pool is forked for every batch of uploads.
    # On Ray (``engine="ray"``) the batches go to the cluster's actors instead.
    settings = replace(ServiceSettings(spool_dir=spool_dir), max_upload_bytes=max_upload_bytes,
                       rate_per_minute=rate_per_minute, job_lease_s=job_lease_s,
                       scan_workers=None if engine == "ray" else 0, engine=engine,
                       ray_address=ray_address, ray_share=max(1, job_workers))
    settings = url_fetch_from_env(settings)
    spool_dir.mkdir(parents=True, exist_ok=True)
    sweep_spool(db, spool_dir / "jobs")
    requeued = recover_jobs(db)
    if requeued:
        log.warning("%d jobs left running by a stopped server are queued again", requeued)
    env = _settings_to_env(settings)
    os.environ[SETTINGS_ENV] = env
    os.environ["CONSENTRY_DB"] = db.url
    ctx = multiprocessing.get_context("spawn")  # a clean process: no server threads to fork
    # Not daemonic: a job worker starts the pipeline's own analysis processes.
    runners = [ctx.Process(target=_job_worker, args=(db.url, env, os.getpid()), name=f"jobs-{i}")
               for i in range(job_workers)]
    for runner in runners:
        runner.start()
    stopping = threading.Event()

    def supervise() -> None:  # a job worker killed by a hostile file is started again
        while not stopping.wait(1.0):
            for i, runner in enumerate(runners):
                if not runner.is_alive() and not stopping.is_set():
                    log.warning("job worker %s stopped (exit %s): starting another", runner.name,
                                runner.exitcode)
                    runners[i] = ctx.Process(target=_job_worker, args=(db.url, env, os.getpid()),
                                             name=runner.name)
                    runners[i].start()

    threading.Thread(target=supervise, daemon=True).start()
    try:
        uvicorn.run("consentry.service.runtime:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_level="warning", access_log=False)
    finally:
        stopping.set()
        for runner in runners:
            runner.terminate()
        for runner in runners:
            runner.join(10)
