"""Hash lookups for the service: the bank indexes held in memory (memory-mapped, shared by
the processes of one machine) and refreshed when the banks change, plus the entry and bank
rows a lookup needs. Raw lookups touch no database at all."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select

from consentry.match.banks import index as bank_index
from consentry.signals.hashing import catalogue
from consentry.signals.hashing.base import ExactLookup, HashType, HashValueError
from consentry.signals.hashing.mih import MIHIndex, hex_to_words
from consentry.store.db import Database
from consentry.store.tables.banks import Bank, BankEntry, Withdrawal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    entry_id: int
    distance: int


@dataclass(frozen=True)
class EntryBank:
    entry_id: int
    bank: str
    bank_enabled: bool
    enabled_ratio: float
    threshold: int
    signal: str
    value: str
    active: bool


class BankLookup:
    def __init__(self, db: Database, refresh_s: float = 2.0) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self.indexes: dict[str, MIHIndex] = {}
        self.loaded_at: float | None = None
        self._fingerprint: tuple | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self.loaded_at is not None

    def load(self) -> None:
        """Bring the indexes up to date with the database now (after a change, at start)."""
        with self._lock:
            fingerprint = self._current_fingerprint()
            self.indexes = bank_index.sync(self.db)
            self._fingerprint = fingerprint
            self.loaded_at = self._checked = time.monotonic()

    def maybe_refresh(self) -> None:
        """Pick up changes another process made (one small query); the app's refresher
        thread calls this every ``refresh_s``, so lookups never wait for it."""
        now = time.monotonic()
        if now - self._checked < self.refresh_s / 2:
            return
        self._checked = now
        if self._current_fingerprint() != self._fingerprint:
            self.load()

    def run_refresher(self, stop: threading.Event) -> None:
        while not stop.wait(self.refresh_s):
            try:
                self.maybe_refresh()
            except Exception:  # the database is away for a moment: try again later
                log.exception("bank index refresh failed")

    def indexed(self, htype: type[HashType]) -> bool:
        return htype.index is not ExactLookup

    def _current_fingerprint(self) -> tuple:
        """What changes when the indexes must: a new entry, a withdrawal (each one writes a
        Withdrawal row), a bank deleted. Maxima of primary keys and the small bank table:
        a few index reads (counting withdrawn entries scanned all 1M rows every refresh,
        a quarter of a server's CPU under load)."""
        with self.db.session() as session:
            return tuple(session.execute(select(
                select(func.max(BankEntry.id)).scalar_subquery(),
                select(func.max(Withdrawal.id)).scalar_subquery(),
                select(func.count(Bank.id)).scalar_subquery(),
                select(func.max(Bank.id)).scalar_subquery())).one())

    def search(self, htype: type[HashType], value: str, threshold: int | None = None) -> list[Hit]:
        """Entries whose value is within ``threshold`` (the type's default) of ``value``;
        withdrawn entries are not among them. ``value`` must be canonical."""
        if htype.index is ExactLookup:
            with self.db.session() as session:
                ids = session.scalars(select(BankEntry.id).where(
                    BankEntry.signal == htype.name, BankEntry.value_key == htype.value_key(value),
                    BankEntry.withdrawn_at.is_(None)).order_by(BankEntry.id))
                return [Hit(i, 0) for i in ids]
        index = self.indexes.get(htype.name)
        if index is None or len(index) == 0:
            return []
        limit = htype.default_threshold if threshold is None else threshold
        keys = htype.index_keys(value)
        _rows, payload, dist = index.search(hex_to_words(keys), limit)
        best: dict[int, int] = {}
        for entry_id, d in zip(payload.tolist(), dist.tolist(), strict=True):
            if entry_id not in best or d < best[entry_id]:
                best[entry_id] = d
        return [Hit(e, best[e]) for e in sorted(best)]

    def search_many(self, htype: type[HashType], queries: list[list[str]], threshold: int
                    ) -> list[list[Hit]]:
        """``search`` for several queries (each its index keys) in one index call."""
        index = self.indexes.get(htype.name)
        if index is None or len(index) == 0:
            return [[] for _ in queries]
        owner = np.repeat(np.arange(len(queries)), [len(k) for k in queries])
        rows, payload, dist = index.search(hex_to_words([k for keys in queries for k in keys]), threshold)
        best: list[dict[int, int]] = [{} for _ in queries]
        for row, entry_id, d in zip(owner[rows].tolist(), payload.tolist(), dist.tolist(), strict=True):
            if entry_id not in best[row] or d < best[row][entry_id]:
                best[row][entry_id] = d
        return [[Hit(e, found[e]) for e in sorted(found)] for found in best]

    def entries(self, entry_ids: list[int]) -> dict[int, EntryBank]:
        found: dict[int, EntryBank] = {}
        with self.db.session() as session:
            for lo in range(0, len(entry_ids), 500):
                rows = session.execute(
                    select(BankEntry.id, Bank.name, Bank.enabled, Bank.enabled_ratio, Bank.threshold,
                           BankEntry.signal, BankEntry.value, BankEntry.withdrawn_at)
                    .join(Bank, Bank.id == BankEntry.bank_id)
                    .where(BankEntry.id.in_(entry_ids[lo : lo + 500])))
                for eid, bank, enabled, ratio, threshold, signal, value, withdrawn in rows:
                    found[eid] = EntryBank(eid, bank, enabled, ratio, threshold, signal, value,
                                           withdrawn is None)
        return found

    def status(self) -> dict[str, dict[str, int | bool]]:
        """Per hash type: is there an index, up to when, and how many hashes (HMA's shape)."""
        out: dict[str, dict[str, int | bool]] = {}
        with self.db.session() as session:
            newest = dict(session.execute(select(BankEntry.signal, func.max(BankEntry.added_at))
                                          .group_by(BankEntry.signal)).all())
            counts = dict(session.execute(
                select(BankEntry.signal, func.count()).where(BankEntry.withdrawn_at.is_(None))
                .group_by(BankEntry.signal)).all())
        for htype in catalogue.all_types():
            at = newest.get(htype.name)
            built_to = int(_aware(at).timestamp()) if at is not None else -1
            if htype.index is ExactLookup:
                size = int(counts.get(htype.name, 0))
                present = self.ready
            else:
                index = self.indexes.get(htype.name)
                size = len(index) - len(index.removed) if index is not None else 0
                present = index is not None and len(index) > 0
                built_to = built_to if present else -1
            out[htype.name] = {"built_to": built_to, "present": present, "size": size}
        return out


class BatchedSearch:
    """Index lookups searched together, one batch at a time, in a search thread: while one
    batch is searched the lookups that arrive meanwhile wait for the next, so the batch
    grows with the load by itself. MIH costs ~0.5 ms of CPU for one PDQ query at 1M hashes
    and ~0.15 ms per query in batches of 16-32 (docs/performance.md); numpy's table reads
    release the GIL, so the event loop parses the next requests during a search."""

    def __init__(self, lookup: BankLookup, on_batch: Callable[[int], None] | None = None) -> None:
        self.lookup = lookup
        self.on_batch = on_batch  # told each batch's size (a metric)
        self._waiting: dict[tuple[str, int], list[tuple[list[str], asyncio.Future[list[Hit]]]]] = {}
        self._busy: set[tuple[str, int]] = set()  # a batch of this kind is being searched

    async def search(self, htype: type[HashType], value: str) -> list[Hit]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Hit]] = loop.create_future()
        key = (htype.name, htype.default_threshold)
        self._waiting.setdefault(key, []).append((htype.index_keys(value), future))
        if key not in self._busy:
            self._busy.add(key)
            loop.call_soon(self._launch, loop, htype, key)  # lookups of this turn join it
        return await future

    def _launch(self, loop: asyncio.AbstractEventLoop, htype: type[HashType], key: tuple[str, int]) -> None:
        batch = self._waiting.pop(key, [])
        if not batch:
            self._busy.discard(key)
            return
        if self.on_batch is not None:
            self.on_batch(len(batch))
        done = loop.run_in_executor(_search_thread(), self.lookup.search_many, htype,
                                    [keys for keys, _f in batch], key[1])
        done.add_done_callback(lambda f: self._settle(loop, htype, key, batch, f))

    def _settle(self, loop: asyncio.AbstractEventLoop, htype: type[HashType], key: tuple[str, int],
                batch: list[tuple[list[str], asyncio.Future[list[Hit]]]], done: asyncio.Future) -> None:
        if done.cancelled():  # the server is stopping
            for _keys, future in batch:
                future.cancel()
            self._busy.discard(key)
            return
        error = done.exception()
        results = [[] for _ in batch] if error is not None else done.result()
        for (_keys, future), hits in zip(batch, results, strict=True):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(hits)
        self._launch(loop, htype, key)  # the lookups that arrived during this search


_SEARCHER: list[ThreadPoolExecutor] = []


def _search_thread() -> ThreadPoolExecutor:
    """One search thread per process (index searches run one at a time, in batches)."""
    if not _SEARCHER:
        _SEARCHER.append(ThreadPoolExecutor(1, thread_name_prefix="consentry-index-search"))
    return _SEARCHER[0]


def parse_signal(type_name: str, value: str) -> tuple[type[HashType], str]:
    """(type, canonical value) for HMA's ``signal_type`` and ``signal``, or ValueError with
    HMA's message."""
    htype = catalogue.find(type_name)
    if htype is None:
        raise LookupError(f"No such SignalType '{type_name}'")
    try:
        return htype, htype.parse(value)
    except HashValueError:
        raise ValueError(f"invalid signal: invalid {htype.name.upper()} hash") from None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
