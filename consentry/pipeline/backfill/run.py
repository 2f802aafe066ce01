"""Work through a backfill run's manifest, chunk by chunk, so that a run killed at any moment
goes on where it stopped and stores each entry's result exactly once.

The run is a source of ``Pipeline.scan`` (consentry.pipeline.source), which batches, decides
and stores as for any scan. Each entry is ``pending`` until this process takes it
(``running``) and then ``done`` or ``error`` in the very transaction that stores its item
(the batch's ``also``, run last in consentry.pipeline.decision's transaction): a crash
before that commit leaves it ``running``, and the next owner puts it back to ``pending``.
Identical files are analysed once: each chunk's files are hashed (SHA-256) first, a file
whose twin was already analysed by the same signal versions is linked to that item (its
stored result repeated, as ``scan --skip-known`` does), and twins within a chunk wait for
the first of them. Errors that may pass (I/O, a missing file on a remounting
share, a watchdog timeout) are retried with exponential backoff; errors that will not (a
corrupt file) are stored at once.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from consentry.actions.sinks import Sink
from consentry.media.source import open_regular
from consentry.pipeline.backfill.engine import Engine
from consentry.pipeline.interrupts import Interrupts
from consentry.pipeline.scan import Pipeline
from consentry.pipeline.source import Batch, ItemSource
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


class BackfillSource(ItemSource):
    """A backfill run as the pipeline's source: claims chunks of pending entries, yields a
    report per entry and commits each entry's new state with its stored item."""

    def __init__(self, db: Database, run: store.RunRecord, signal_classes: list[type[Signal]],
                 engine: Engine, retry: RetryPolicy, chunk_items: int) -> None:
        assert run.scan_id is not None and run.manifest_complete
        self.db, self.run, self.engine = db, run, engine
        self.retry, self.chunk_items = retry, chunk_items
        self.versions = versions_key({c.name: c.version for c in signal_classes})
        self.owner = store.owner_name()
        self._interrupts = Interrupts()
        self._last_beat = 0.0
        self._entries: dict[int, store.Entry] = {}  # id(report) -> the entry it answers
        # the chunk's twins (same SHA-256) waiting for the first of them to be stored
        self._twins: dict[str, list[tuple[store.Entry, _Digest]]] = {}
        self._follow: list[ItemReport] = []  # twins linked by the last stored batch

    def open(self, db: Database, interrupts: Interrupts) -> int:
        self._interrupts = interrupts
        store.claim(self.db, self.run.run_id, self.owner)
        counts = store.counts(self.db, self.run.run_id)
        self.total = counts[store.PENDING] + counts[store.RUNNING]
        assert self.run.scan_id is not None
        return self.run.scan_id

    def reports(self, on_wait: Callable[[], None]) -> Iterator[ItemReport]:
        """Chunk after chunk until every entry is done or error (waiting for retries that
        are due later)."""
        def waiting() -> None:
            on_wait()
            if time.monotonic() - self._last_beat > HEARTBEAT_SECONDS:
                with self._interrupts.critical():
                    store.heartbeat(self.db, self.run.run_id, self.owner)
                self._last_beat = time.monotonic()

        while True:
            with self._interrupts.critical():
                entries = store.take_pending(self.db, self.run.run_id, self.owner,
                                             self.chunk_items)
            if entries:
                yield from self._chunk(entries, waiting)
            elif not self._wait_for_retry():
                return

    def _wait_for_retry(self) -> bool:
        """Sleep until the next retry is due; False when nothing waits."""
        when = store.next_retry_at(self.db, self.run.run_id)
        if when is None:
            return False
        time.sleep(min(HEARTBEAT_SECONDS, max(0.0, (when - utcnow()).total_seconds())))
        with self._interrupts.critical():
            store.heartbeat(self.db, self.run.run_id, self.owner)
        return True

    def _yield(self, entry: store.Entry, report: ItemReport) -> ItemReport:
        self._entries[id(report)] = entry
        return report

    def _chunk(self, entries: list[store.Entry], flush: Callable[[], None]) -> Iterator[ItemReport]:
        with ThreadPoolExecutor(_HASH_THREADS) as pool:
            digests = list(pool.map(_digest, [e.path for e in entries]))
        with self._interrupts.critical(), self.db.session() as session:
            linked = store.linkable_items(session, [d.sha256 for d in digests if d], self.versions)
        firsts: set[str] = set()
        to_analyse: list[store.Entry] = []
        self._twins = {}
        for entry, digest in zip(entries, digests, strict=True):
            if digest is not None and digest.sha256 in linked:
                yield self._yield(entry, _linked(entry.path, digest, linked[digest.sha256]))
            elif digest is not None and digest.sha256 in firsts:
                self._twins.setdefault(digest.sha256, []).append((entry, digest))
            else:
                if digest is not None:
                    firsts.add(digest.sha256)
                to_analyse.append(entry)
        by_path: dict[Path, deque[store.Entry]] = {}
        for entry in to_analyse:
            by_path.setdefault(entry.path, deque()).append(entry)
        if to_analyse:
            for report in self.engine.reports([e.path for e in to_analyse], on_wait=flush):
                waiting = by_path.get(report.path)
                if not waiting:  # a file inside an entry that became a folder: not listed
                    continue
                yield self._yield(waiting.popleft(), report)
            for entry in [e for queue in by_path.values() for e in queue]:  # never answered
                report = ItemReport(path=entry.path)
                report.fail("not_regular", "no longer a file (it became a folder since it was "
                            "listed)")
                yield self._yield(entry, report)
        while True:  # store what came, so the twins of stored files can be linked to them
            flush()
            if not self._follow:
                break
            follow, self._follow = self._follow, []
            yield from follow
        # Twins of a file that failed (or waits for a retry) go back untried: the next
        # chunk analyses the first of them.
        handed_back = [store.EntryOutcome(e.entry_id, store.PENDING, attempted=False)
                       for group in self._twins.values() for e, _ in group]
        self._twins = {}
        if handed_back:
            with self._interrupts.critical(), self.db.session() as session:
                store.record_outcomes(session, self.run.run_id, self.owner, handed_back)

    def storing(self, reports: list[ItemReport]) -> Batch:
        """Reports whose error may pass are not stored: their entries wait for a retry. Every
        entry's new state commits with the batch's items."""
        keep: list[tuple[store.Entry, ItemReport]] = []
        retries: list[store.EntryOutcome] = []
        for report in reports:
            entry = self._entries.pop(id(report))
            if self._retryable(entry, report):
                retries.append(store.EntryOutcome(
                    entry.entry_id, store.PENDING, error_code=report.error_code,
                    error=report.error, retry_at=self.retry.retry_at(entry.attempts + 1)))
            else:
                keep.append((entry, report))

        def mark(session: Session) -> None:  # last in the transaction: item ids are set
            outcomes = [store.EntryOutcome(
                entry.entry_id, store.ERROR if report.status is ItemStatus.ERROR else store.DONE,
                item_id=report.item_id, error_code=report.error_code, error=report.error)
                for entry, report in keep]
            store.record_outcomes(session, self.run.run_id, self.owner, outcomes + retries)

        return Batch([report for _, report in keep], mark)

    def stored(self, reports: list[ItemReport]) -> None:
        """Twins of what was just stored are linked to it (they come next)."""
        self._last_beat = time.monotonic()  # record_outcomes renewed the heartbeat
        for report in reports:
            target = self._link_target(report)
            if report.sha256 in self._twins and target is not None:
                self._follow += [self._yield(e, _linked(e.path, d, target))
                                 for e, d in self._twins.pop(report.sha256)]

    def close(self, db: Database, summary: ScanSummary, *, completed: bool) -> ScanSummary:
        assert self.run.scan_id is not None
        store.release(self.db, self.run.run_id, self.owner, finished=completed)
        store.finish_scan(self.db, self.run.scan_id)
        # the whole run's counts, over every process that worked on it
        summary.n_items, summary.n_errors, summary.n_flagged = store.scan_counts(
            self.db, self.run.scan_id)
        return summary

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


class Backfill:
    """Runs one backfill (``run``) with one policy, signal set and engine, through the one
    pipeline (``Pipeline.scan``) with the run as its source."""

    def __init__(self, db: Database, policy: Policy, signal_classes: list[type[Signal]],
                 engine: Engine, *, retry: RetryPolicy | None = None,
                 chunk_items: int = CHUNK_ITEMS) -> None:
        self.db, self.policy, self.engine = db, policy, engine
        self.signal_classes = signal_classes
        self.retry = retry or RetryPolicy()
        self.chunk_items = chunk_items

    def run(self, run: store.RunRecord, sinks: Sequence[Sink] = ()) -> ScanSummary:
        """Work until every entry is done or error. An interruption (Ctrl-C, SIGTERM) hands
        back what was not stored and re-raises."""
        source = BackfillSource(self.db, run, self.signal_classes, self.engine, self.retry,
                                self.chunk_items)
        return Pipeline(self.db, self.policy).scan(source, sinks)


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
