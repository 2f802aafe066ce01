"""Work through a backfill run's manifest, chunk by chunk, so that a run killed at any moment
goes on where it stopped and stores each entry's result exactly once.

Each entry is ``pending`` until this process takes it (``running``) and then ``done`` or
``error`` in the very transaction that stores its item (consentry.pipeline.decision's
``also``): a crash before that commit leaves it ``running``, and the next owner puts it back
to ``pending``. Identical files are analysed once: each chunk's files are hashed (SHA-256)
first, a file whose twin was already analysed by the same signal versions is linked to that
item (its stored result repeated, as ``scan --skip-known`` does), and twins within a chunk
wait for the first of them. Errors that may pass (I/O, a missing file on a remounting
share, a watchdog timeout) are retried with exponential backoff; errors that will not (a
corrupt file) are stored at once.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from consentry.actions.sinks import Sink
from consentry.match.matchers import matcher_classes
from consentry.media.source import open_regular
from consentry.pipeline.backfill.engine import Engine
from consentry.pipeline.decision import decide_batch
from consentry.pipeline.interrupts import Interrupts
from consentry.policy.base import Policy
from consentry.signals.base import Signal
from consentry.store import backfill as store
from consentry.store.db import Database
from consentry.store.scans import versions_key
from consentry.store.tables.core import utcnow
from consentry.types import ItemReport, ItemStatus, ScanSummary

# Error codes worth another try: the file may be readable later. Everything else (corrupt,
# unsupported, empty, over a limit, a decoder crash) gives the same answer every time.
RETRYABLE = frozenset({"unreadable", "not_found", "os_error", "timeout"})
CHUNK_ITEMS = 2048  # entries taken per round (one worker pool per chunk: forks are amortised)
BATCH_ITEMS = 64  # items stored per transaction
BATCH_SECONDS = 0.5
HEARTBEAT_SECONDS = 10.0
_HASH_THREADS = 4  # reading files to hash them is I/O: threads overlap it
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    delay_s: float = 2.0  # before the first retry; doubled before each next one

    def retry_at(self, attempts_done: int) -> datetime:
        return utcnow() + timedelta(seconds=self.delay_s * 2 ** max(0, attempts_done - 1))


@dataclass(frozen=True)
class _Digest:
    sha256: str
    md5: str
    size: int


class Backfill:
    """Runs one backfill (``run``) with one policy, signal set and engine."""

    def __init__(self, db: Database, policy: Policy, signal_classes: list[type[Signal]],
                 engine: Engine, *, retry: RetryPolicy | None = None,
                 chunk_items: int = CHUNK_ITEMS) -> None:
        self.db, self.policy, self.engine = db, policy, engine
        self.retry = retry or RetryPolicy()
        self.chunk_items = chunk_items
        self.versions = versions_key({c.name: c.version for c in signal_classes})
        self.owner = store.owner_name()
        self._matchers = [m for cls in matcher_classes() if (m := cls.load(db)) is not None]
        self._sinks: Sequence[Sink] = ()
        self._run_id = self._scan_id = 0
        self._last_beat = 0.0
        self._interrupts = Interrupts()

    def run(self, run: store.RunRecord, sinks: Sequence[Sink] = ()) -> ScanSummary:
        """Work until every entry is done or error (waiting for retries that are due later).
        An interruption (Ctrl-C, SIGTERM) hands back what was not stored and re-raises."""
        assert run.scan_id is not None and run.manifest_complete
        self._run_id, self._scan_id, self._sinks = run.run_id, run.scan_id, sinks
        store.claim(self.db, run.run_id, self.owner)
        counts = store.counts(self.db, run.run_id)
        summary = ScanSummary(run.scan_id)
        for sink in sinks:
            sink.start(run.scan_id, counts[store.PENDING] + counts[store.RUNNING])
        finished = False
        try:
            with self._interrupts.installed():
                while True:
                    with self._interrupts.critical():
                        entries = store.take_pending(self.db, run.run_id, self.owner,
                                                     self.chunk_items)
                    if entries:
                        self._chunk(entries)
                    elif not self._wait_for_retry():
                        break
            finished = True
        except KeyboardInterrupt:
            summary.interrupted = True
            raise
        finally:
            store.release(self.db, run.run_id, self.owner, finished=finished)
            store.finish_scan(self.db, run.scan_id)
            summary.n_items, summary.n_errors, summary.n_flagged = store.scan_counts(
                self.db, run.scan_id)
            for sink in sinks:
                sink.finish(summary)
        return summary

    def _wait_for_retry(self) -> bool:
        """Sleep until the next retry is due; False when nothing waits."""
        when = store.next_retry_at(self.db, self._run_id)
        if when is None:
            return False
        time.sleep(min(HEARTBEAT_SECONDS, max(0.0, (when - utcnow()).total_seconds())))
        with self._interrupts.critical():
            store.heartbeat(self.db, self._run_id, self.owner)
        return True

    # -- one chunk ------------------------------------------------------------------------

    def _chunk(self, entries: list[store.Entry]) -> None:
        with ThreadPoolExecutor(_HASH_THREADS) as pool:
            digests = list(pool.map(_digest, [e.path for e in entries]))
        with self._interrupts.critical(), self.db.session() as session:
            linked = store.linkable_items(session, [d.sha256 for d in digests if d], self.versions)
        ready: list[tuple[store.Entry, ItemReport]] = []
        twins: dict[str, list[tuple[store.Entry, _Digest]]] = {}
        firsts: set[str] = set()
        to_analyse: list[store.Entry] = []
        for entry, digest in zip(entries, digests, strict=True):
            if digest is not None and digest.sha256 in linked:
                ready.append((entry, _linked(entry.path, digest, linked[digest.sha256])))
            elif digest is not None and digest.sha256 in firsts:
                twins.setdefault(digest.sha256, []).append((entry, digest))
            else:
                if digest is not None:
                    firsts.add(digest.sha256)
                to_analyse.append(entry)
        by_path: dict[Path, deque[store.Entry]] = {}
        for entry in to_analyse:
            by_path.setdefault(entry.path, deque()).append(entry)
        batch = ready
        started = time.monotonic()

        def store_now() -> None:
            nonlocal batch, started
            with self._interrupts.critical():
                batch = self._store(batch, twins)
            started = time.monotonic()

        if to_analyse:
            for report in self.engine.reports([e.path for e in to_analyse], on_wait=store_now):
                waiting = by_path.get(report.path)
                if not waiting:  # a file inside an entry that became a folder: not listed
                    continue
                batch.append((waiting.popleft(), report))
                if len(batch) >= BATCH_ITEMS or time.monotonic() - started >= BATCH_SECONDS:
                    store_now()
            for entry in [e for queue in by_path.values() for e in queue]:  # never answered
                report = ItemReport(path=entry.path)
                report.fail("not_regular", "no longer a file (it became a folder since it was "
                            "listed)")
                batch.append((entry, report))
        while batch:  # twins linked by the last store come back as a new batch
            store_now()
        # Twins of a file that failed (or waits for a retry) go back untried: the next
        # chunk analyses the first of them.
        handed_back = [store.EntryOutcome(e.entry_id, store.PENDING, attempted=False)
                       for group in twins.values() for e, _ in group]
        if handed_back:
            with self._interrupts.critical(), self.db.session() as session:
                store.record_outcomes(session, self._run_id, self.owner, handed_back)

    def _store(self, batch: list[tuple[store.Entry, ItemReport]],
               twins: dict[str, list[tuple[store.Entry, _Digest]]]
               ) -> list[tuple[store.Entry, ItemReport]]:
        """Store a batch in one transaction with its entries' new states; returns the twins
        that can now be linked to what was stored (the next batch)."""
        if not batch:
            if time.monotonic() - self._last_beat > HEARTBEAT_SECONDS:
                store.heartbeat(self.db, self._run_id, self.owner)
                self._last_beat = time.monotonic()
            return []
        keep: list[tuple[store.Entry, ItemReport]] = []
        retries: list[store.EntryOutcome] = []
        for entry, report in batch:
            if self._retryable(entry, report):
                retries.append(store.EntryOutcome(
                    entry.entry_id, store.PENDING, error_code=report.error_code,
                    error=report.error, retry_at=self.retry.retry_at(entry.attempts + 1)))
            else:
                keep.append((entry, report))

        def mark(session: Session) -> None:
            outcomes = [store.EntryOutcome(
                entry.entry_id, store.ERROR if report.status is ItemStatus.ERROR else store.DONE,
                item_id=report.item_id, error_code=report.error_code, error=report.error)
                for entry, report in keep]
            store.record_outcomes(session, self._run_id, self.owner, outcomes + retries)

        reports = [report for _, report in keep]
        if reports:
            decide_batch(reports, self.db, self._scan_id, self._matchers, self.policy, also=mark)
        else:
            with self.db.session() as session:
                mark(session)
        self._last_beat = time.monotonic()
        for sink in self._sinks:
            for report in reports:
                sink.item(report)
            sink.flush()
        follow: list[tuple[store.Entry, ItemReport]] = []
        for report in reports:
            target = self._link_target(report)
            if report.sha256 in twins and target is not None:
                follow += [(e, _linked(e.path, d, target)) for e, d in twins.pop(report.sha256)]
        return follow

    def _retryable(self, entry: store.Entry, report: ItemReport) -> bool:
        return (report.status is ItemStatus.ERROR and report.error_code in RETRYABLE
                and entry.attempts + 1 < self.retry.max_attempts)

    def _link_target(self, report: ItemReport) -> int | None:
        """The item an identical file can repeat: this one when it was analysed without
        error by exactly the run's signal versions (or the item it repeats itself)."""
        if report.known_item_id is not None:
            return report.known_item_id
        if (report.status is ItemStatus.OK and not report.signal_errors
                and versions_key(report.signal_versions) == self.versions):
            return report.item_id
        return None


def _linked(path: Path, digest: _Digest, item_id: int) -> ItemReport:
    """The report of a file identical to stored item ``item_id``: the decision stage repeats
    that item's result (consentry.pipeline.decision)."""
    return ItemReport(path=path, size=digest.size, md5=digest.md5, sha256=digest.sha256,
                      known_item_id=item_id)


def _digest(path: Path) -> _Digest | None:
    """SHA-256 and MD5 of a regular file (None when it cannot be read now: the analysis then
    reports why, with the scan's own error codes)."""
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    try:
        with open_regular(path) as fh:
            while chunk := fh.read(_CHUNK):
                sha256.update(chunk)
                md5.update(chunk)
                size += len(chunk)
    except Exception:  # missing, unreadable, not regular: the analysis says which
        return None
    return _Digest(sha256.hexdigest(), md5.hexdigest(), size) if size else None
