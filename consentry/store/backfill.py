"""Storing backfill runs: the manifest, each entry's state, who works on a run (the store side
of ``consentry backfill``). Reads return dataclasses; ``record_outcomes`` runs inside the
transaction that stores the entries' results, so an entry is done exactly once."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from consentry.errors import ConsentryError
from consentry.names import path_text
from consentry.store import scans as scan_store
from consentry.store.db import Database
from consentry.store.tables.backfill import (
    DONE,
    ERROR,
    PENDING,
    RUNNING,
    STATES,
    BackfillEntry,
    BackfillRun,
)
from consentry.store.tables.core import Item, utcnow

# A run whose owner on another machine has not stored anything for this long is taken over.
STALE_OWNER = timedelta(seconds=120)
MANIFEST_BATCH = 5000


class RunBusy(ConsentryError):
    code = "backfill_busy"


class LostOwnership(ConsentryError):
    """Another process took the run over (this one was thought dead): stop, store nothing."""

    code = "backfill_taken_over"


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    key: str
    created_at: datetime
    finished_at: datetime | None
    sources: list[str]
    settings: dict[str, Any]
    scan_id: int | None
    manifest_complete: bool
    total: int
    owner: str | None

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "created_at": self.created_at,
                "finished_at": self.finished_at, "sources": self.sources,
                "scan_id": self.scan_id, "total": self.total, "owner": self.owner}


@dataclass(frozen=True)
class Entry:
    """One manifest entry handed to the analysis."""

    entry_id: int
    seq: int
    path: Path
    external_id: str | None
    attempts: int


@dataclass(frozen=True)
class EntryOutcome:
    """What one attempt at an entry came to: stored (``item_id``: done, or error when the
    item is an error), or to be tried again at ``retry_at``."""

    entry_id: int
    state: str
    item_id: int | None = None
    error_code: str | None = None
    error: str | None = None
    retry_at: datetime | None = None
    attempted: bool = True  # False: handed back untried (its identical twin failed)


@dataclass(frozen=True)
class EntryRecord:
    seq: int
    path: str
    external_id: str | None
    state: str
    attempts: int
    error_code: str | None
    error: str | None
    item_id: int | None
    result: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "path": self.path, "external_id": self.external_id,
                "state": self.state, "attempts": self.attempts, "error_code": self.error_code,
                "error": self.error, "item_id": self.item_id, "result": self.result}


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# -- runs ---------------------------------------------------------------------------------

def find_run(db: Database, key: str) -> RunRecord | None:
    """The newest run started with exactly these sources and settings."""
    with db.session() as session:
        run = session.scalars(select(BackfillRun).where(BackfillRun.key == key)
                              .order_by(BackfillRun.id.desc()).limit(1)).first()
        return _record(run) if run is not None else None


def get_run(db: Database, run_id: int) -> RunRecord | None:
    with db.session() as session:
        run = session.get(BackfillRun, run_id)
        return _record(run) if run is not None else None


def list_runs(db: Database, limit: int = 50) -> list[RunRecord]:
    with db.session() as session:
        return [_record(r) for r in session.scalars(
            select(BackfillRun).order_by(BackfillRun.id.desc()).limit(limit))]


def create_run(db: Database, key: str, sources: Sequence[str], settings: dict[str, Any],
               scan_settings: dict[str, Any]) -> int:
    """A new run with its scan (the items it stores belong to that scan)."""
    with db.session() as session:
        scan_id = scan_store.start_scan(session, {**scan_settings, "backfill": True})
        run = BackfillRun(key=key, sources=list(sources), settings=settings, scan_id=scan_id,
                          manifest_complete=False, total=0, owner=owner_name(),
                          heartbeat_at=utcnow())
        session.add(run)
        session.flush()
        return run.id


def write_manifest(db: Database, run_id: int, entries: Iterable[tuple[Path, str | None]]) -> int:
    """List every entry, in batches (a huge manifest is not held in memory), then mark the
    manifest complete. A manifest left incomplete by a crash is listed again from scratch:
    nothing was analysed before it was complete."""
    with db.session() as session:
        session.execute(delete(BackfillEntry).where(BackfillEntry.run_id == run_id))
    seq = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        if batch:
            with db.session() as session:
                session.execute(BackfillEntry.__table__.insert(), batch)
            batch.clear()

    for path, external_id in entries:
        text = path_text(path)
        raw = os.fsencode(path)
        batch.append({"run_id": run_id, "seq": seq, "path": text,
                      "path_raw": None if raw == text.encode() else raw,
                      "external_id": external_id, "state": PENDING, "attempts": 0,
                      "updated_at": utcnow()})
        seq += 1
        if len(batch) >= MANIFEST_BATCH:
            flush()
    flush()
    with db.session() as session:
        run = session.get(BackfillRun, run_id)
        assert run is not None
        run.manifest_complete, run.total = True, seq
    return seq


def claim(db: Database, run_id: int, owner: str) -> None:
    """Make ``owner`` the run's one worker: refused while another live process holds it; a
    dead owner's ``running`` entries go back to ``pending`` (their results were never
    committed, or they would be ``done``)."""
    with db.session() as session:
        run = _locked_run(session, run_id)
        if run.owner and run.owner != owner and _owner_alive(run.owner, run.heartbeat_at):
            raise RunBusy(f"backfill {run_id} is being worked on by {run.owner} (process still "
                          "alive); wait for it, or stop it first")
        run.owner, run.heartbeat_at, run.finished_at = owner, utcnow(), None
        session.execute(update(BackfillEntry)
                        .where(BackfillEntry.run_id == run_id, BackfillEntry.state == RUNNING)
                        .values(state=PENDING, updated_at=utcnow()))


def release(db: Database, run_id: int, owner: str, *, finished: bool) -> None:
    """Hand back what this owner held (an interruption) and give up ownership."""
    with db.session() as session:
        run = _locked_run(session, run_id)
        if run.owner != owner:
            return
        session.execute(update(BackfillEntry)
                        .where(BackfillEntry.run_id == run_id, BackfillEntry.state == RUNNING)
                        .values(state=PENDING, updated_at=utcnow()))
        run.owner, run.heartbeat_at = None, None
        if finished:
            run.finished_at = utcnow()


def heartbeat(db: Database, run_id: int, owner: str) -> None:
    with db.session() as session:
        check_owner(session, run_id, owner)


def check_owner(session: Session, run_id: int, owner: str) -> None:
    run = _locked_run(session, run_id)
    if run.owner != owner:
        raise LostOwnership(f"backfill {run_id} was taken over by {run.owner}")
    run.heartbeat_at = utcnow()


def _locked_run(session: Session, run_id: int) -> BackfillRun:
    run = session.scalars(select(BackfillRun).where(BackfillRun.id == run_id)
                          .with_for_update()).first()
    if run is None:
        raise ConsentryError(f"no backfill run {run_id}")
    return run


def _owner_alive(owner: str, heartbeat_at: datetime | None) -> bool:
    alive = scan_store.local_process_alive(owner)
    if alive is not None:
        return alive
    if heartbeat_at is None:  # another host's process: alive while its heartbeat is fresh
        return False
    if heartbeat_at.tzinfo is None:  # SQLite hands back naive UTC
        heartbeat_at = heartbeat_at.replace(tzinfo=utcnow().tzinfo)
    return utcnow() - heartbeat_at < STALE_OWNER


# -- entries ------------------------------------------------------------------------------

def take_pending(db: Database, run_id: int, owner: str, limit: int) -> list[Entry]:
    """Mark up to ``limit`` pending entries that are due ``running`` and return them."""
    now = utcnow()
    with db.session() as session:
        check_owner(session, run_id, owner)
        rows = session.execute(
            select(BackfillEntry.id, BackfillEntry.seq, BackfillEntry.path, BackfillEntry.path_raw,
                   BackfillEntry.external_id, BackfillEntry.attempts)
            .where(BackfillEntry.run_id == run_id, BackfillEntry.state == PENDING,
                   (BackfillEntry.next_attempt_at.is_(None)) | (BackfillEntry.next_attempt_at <= now))
            .order_by(BackfillEntry.seq).limit(limit)).all()
        if rows:
            session.execute(update(BackfillEntry).where(BackfillEntry.id.in_([r.id for r in rows]))
                            .values(state=RUNNING, updated_at=now))
    return [Entry(r.id, r.seq, Path(os.fsdecode(r.path_raw)) if r.path_raw else Path(r.path),
                  r.external_id, r.attempts) for r in rows]


def next_retry_at(db: Database, run_id: int) -> datetime | None:
    """When the earliest entry waiting for a retry is due (None: none waits)."""
    with db.session() as session:
        when = session.scalar(select(func.min(BackfillEntry.next_attempt_at))
                              .where(BackfillEntry.run_id == run_id,
                                     BackfillEntry.state == PENDING))
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=utcnow().tzinfo)
    return when


def record_outcomes(session: Session, run_id: int, owner: str,
                    outcomes: Sequence[EntryOutcome]) -> None:
    """Flip entries to their new state in the caller's transaction (the one storing their
    items). Only entries this owner holds ``running`` change; anything else means another
    process has the run, and the whole transaction is rolled back."""
    if not outcomes:
        return
    check_owner(session, run_id, owner)
    ids = [o.entry_id for o in outcomes]
    held = session.scalar(select(func.count()).where(BackfillEntry.id.in_(ids),
                                                     BackfillEntry.state == RUNNING))
    if held != len(set(ids)):
        raise LostOwnership(f"backfill {run_id}: entries were no longer held by {owner}")
    now = utcnow()
    session.execute(update(BackfillEntry), [
        {"id": o.entry_id, "state": o.state, "item_id": o.item_id, "error_code": o.error_code,
         "error": o.error, "next_attempt_at": o.retry_at, "updated_at": now} for o in outcomes])
    tried = [o.entry_id for o in outcomes if o.attempted]
    if tried:
        session.execute(update(BackfillEntry).where(BackfillEntry.id.in_(tried))
                        .values(attempts=BackfillEntry.attempts + 1),
                        execution_options={"synchronize_session": False})


def linkable_items(session: Session, shas: Sequence[str], versions_key: str) -> dict[str, int]:
    """SHA-256 -> the newest item analysed without error by exactly these signal versions,
    for the given files only (an indexed look-up, not a load of every stored hash)."""
    if not shas:
        return {}
    rows = session.execute(select(Item.sha256, func.max(Item.id))
                           .where(Item.sha256.in_(list(set(shas))),
                                  Item.signal_versions == versions_key)
                           .group_by(Item.sha256))
    return {sha: item_id for sha, item_id in rows}


def counts(db: Database, run_id: int) -> dict[str, int]:
    """Entries per state (every state present, zero when none)."""
    with db.session() as session:
        rows = session.execute(select(BackfillEntry.state, func.count())
                               .where(BackfillEntry.run_id == run_id)
                               .group_by(BackfillEntry.state))
        found = {state: n for state, n in rows}
    return {state: int(found.get(state, 0)) for state in STATES}


def scan_counts(db: Database, scan_id: int) -> tuple[int, int, int]:
    """(items, errors, flagged) stored under a run's scan."""
    with db.session() as session:
        row = session.execute(select(func.count(), func.count().filter(Item.status == ERROR),
                                     func.count().filter(Item.flagged.is_(True)))
                              .where(Item.scan_id == scan_id)).one()
    return int(row[0]), int(row[1]), int(row[2])


def finish_scan(db: Database, scan_id: int) -> None:
    n_items, n_errors, n_flagged = scan_counts(db, scan_id)
    with db.session() as session:
        scan_store.finish_scan(session, scan_id, n_items, n_errors, n_flagged)


def entries(db: Database, run_id: int, state: str | None = None,
            page: int = 1000) -> Iterator[EntryRecord]:
    """Every entry of a run in manifest order, with its stored result, read page by page
    (usable while the run goes on, and on runs of millions)."""
    last = -1
    while True:
        with db.session() as session:
            query = (select(BackfillEntry, Item.result)
                     .outerjoin(Item, Item.id == BackfillEntry.item_id)
                     .where(BackfillEntry.run_id == run_id, BackfillEntry.seq > last)
                     .order_by(BackfillEntry.seq).limit(page))
            if state is not None:
                query = query.where(BackfillEntry.state == state)
            rows = session.execute(query).all()
        for entry, result in rows:
            yield EntryRecord(entry.seq, entry.path, entry.external_id, entry.state,
                              entry.attempts, entry.error_code, entry.error, entry.item_id,
                              result)
        if len(rows) < page:
            return
        last = rows[-1][0].seq


def _record(run: BackfillRun) -> RunRecord:
    return RunRecord(run.id, run.key, run.created_at, run.finished_at, list(run.sources or []),
                     dict(run.settings or {}), run.scan_id, run.manifest_complete, run.total,
                     run.owner)


__all__ = ["DONE", "ERROR", "PENDING", "RUNNING", "STATES", "Entry", "EntryOutcome",
           "EntryRecord", "LostOwnership", "RunBusy", "RunRecord"]
