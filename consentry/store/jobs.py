"""The durable job queue of the service: a job row is written before the upload is
acknowledged; workers claim jobs with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several servers share one queue; SQLite has one writer and one server), keep it alive while
they run, and finish each job once: a worker whose lease was taken over cannot finish it.
A job whose worker died (SIGKILL, power) is claimed again when its lease runs out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from consentry.store.db import Database
from consentry.store.tables.core import utcnow
from consentry.store.tables.service import Job

STATUSES = ("queued", "running", "done", "error")
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    status: str
    external_id: str | None
    signals: tuple[str, ...] | None
    policy: str | None
    spool_path: str | None
    attempts: int
    item_id: int | None
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"job_id": self.job_id, "status": self.status,
                               "external_id": self.external_id, "created_at": self.created_at,
                               "finished_at": self.finished_at, "attempts": self.attempts}
        if self.result is not None:
            out["result"] = self.result
        if self.error is not None:
            out["error"] = self.error
        return out


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _record(job: Job) -> JobRecord:
    return JobRecord(job.id, job.status, job.external_id,
                     tuple(job.signals) if job.signals is not None else None, job.policy,
                     job.spool_path, job.attempts, job.item_id, job.result, job.error,
                     _aware(job.created_at) or utcnow(), _aware(job.finished_at))


def new_job_id() -> str:
    return str(uuid.uuid4())


def enqueue(db: Database, job_id: str, *, spool_path: str, size: int, key_id: str | None,
            external_id: str | None, signals: tuple[str, ...] | None, policy: str | None) -> None:
    with db.session() as session:
        session.add(Job(id=job_id, status="queued", key_id=key_id, external_id=external_id,
                        signals=list(signals) if signals is not None else None, policy=policy,
                        spool_path=spool_path, size=size, attempts=0, created_at=utcnow()))


def get(db: Database, job_id: str) -> JobRecord | None:
    with db.session() as session:
        job = session.get(Job, job_id)
        return _record(job) if job else None


def claim(db: Database, worker: str, limit: int, lease_s: float, max_attempts: int = MAX_ATTEMPTS
          ) -> list[JobRecord]:
    """Take up to ``limit`` jobs that are queued or whose lease ran out, oldest first. A job
    whose worker died ``max_attempts`` times (a file that kills its decoder) ends in error."""
    now = utcnow()
    takeable = or_(Job.status == "queued", (Job.status == "running") & (Job.lease_until < now))
    with db.session() as session:
        session.execute(update(Job).where(takeable, Job.attempts >= max_attempts).values(
            status="error", finished_at=now, lease_until=None,
            error=f"the worker stopped while running this job {max_attempts} times; given up"))
    # One statement: SQLite runs it under its write lock, so two servers (or threads) never
    # take the same job; PostgreSQL skips rows another claim has locked.
    oldest = select(Job.id).where(takeable).order_by(Job.created_at).limit(limit)
    if db.dialect == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    with db.session() as session:
        ids = list(session.scalars(
            update(Job).where(Job.id.in_(oldest.scalar_subquery()), takeable)
            .values(status="running", worker=worker, lease_until=now + timedelta(seconds=lease_s),
                    attempts=Job.attempts + 1, started_at=now)
            .returning(Job.id)))
        if not ids:
            return []
        jobs = session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.created_at)
                               .execution_options(populate_existing=True)).all()
        return [_record(j) for j in jobs]


def extend_lease(db: Database, worker: str, job_ids: list[str], lease_s: float) -> None:
    with db.session() as session:
        session.execute(update(Job).where(Job.id.in_(job_ids), Job.worker == worker,
                                          Job.status == "running")
                        .values(lease_until=utcnow() + timedelta(seconds=lease_s)))


def finish(db: Database, job_id: str, worker: str, *, result: dict[str, Any] | None,
           item_id: int | None, error: str | None = None) -> bool:
    """Mark the job done (or error); False when this worker no longer holds it."""
    with db.session() as session:
        done = session.execute(
            update(Job).where(Job.id == job_id, Job.worker == worker, Job.status == "running")
            .values(status="error" if error else "done", result=result, item_id=item_id,
                    error=error, finished_at=utcnow(), lease_until=None, spool_path=None))
        return bool(done.rowcount)  # type: ignore[attr-defined]


def finish_many(db: Database, worker: str,
                ends: list[tuple[str, dict[str, Any] | None, int | None, str | None]]) -> set[str]:
    """``finish`` for several jobs (job id, result, item id, error) in one transaction;
    returns the ids this worker ended."""
    ended: set[str] = set()
    if not ends:
        return ended
    now = utcnow()
    with db.session() as session:
        for job_id, result, item_id, error in ends:
            done = session.execute(
                update(Job).where(Job.id == job_id, Job.worker == worker, Job.status == "running")
                .values(status="error" if error else "done", result=result, item_id=item_id,
                        error=error, finished_at=now, lease_until=None, spool_path=None))
            if done.rowcount:  # type: ignore[attr-defined]
                ended.add(job_id)
    return ended


def release_worker(db: Database, worker_prefix: str | None = None) -> int:
    """Put running jobs back in the queue at once: on SQLite (one server) every running job
    at start-up belongs to a dead process; on PostgreSQL leases expire instead."""
    with db.session() as session:
        query = update(Job).where(Job.status == "running")
        if worker_prefix:
            query = query.where(Job.worker.startswith(worker_prefix))
        return int(session.execute(query.values(status="queued", lease_until=None)).rowcount)  # type: ignore[attr-defined]


def depth(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(select(Job.status, func.count()).where(Job.status.in_(("queued", "running")))
                               .group_by(Job.status)).all()
    counts = {"queued": 0, "running": 0}
    counts.update({status: int(n) for status, n in rows})
    return counts


def ended_ids(db: Database, job_ids: list[str]) -> set[str]:
    """Which of these jobs have ended (done or error)."""
    found: set[str] = set()
    with db.session() as session:
        for lo in range(0, len(job_ids), 500):
            found.update(session.scalars(select(Job.id).where(
                Job.id.in_(job_ids[lo : lo + 500]), Job.status.in_(("done", "error")))))
    return found


def known_ids(db: Database, job_ids: list[str]) -> set[str]:
    found: set[str] = set()
    with db.session() as session:
        for lo in range(0, len(job_ids), 500):
            found.update(session.scalars(select(Job.id).where(Job.id.in_(job_ids[lo : lo + 500]))))
    return found


def unfinished_spool_paths(db: Database) -> set[str]:
    with db.session() as session:
        return {p for p in session.scalars(select(Job.spool_path).where(Job.spool_path.is_not(None)))}
