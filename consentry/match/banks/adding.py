"""Adding entries to a bank in bulk (``add_records``): batched Core inserts with no ORM objects
kept, and duplicates of active entries skipped without a look-up per entry. The bank
operations fronts call are in consentry.match.banks.service, which re-exports these."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from consentry.match.banks.records import BankRecord
from consentry.store import audit
from consentry.store.tables.banks import Bank, BankEntry
from consentry.store.tables.core import utcnow

_BATCH = 5_000  # entries written per statement (an import of millions streams in batches)


@dataclass
class AddResult:
    added: int = 0
    duplicates: int = 0
    withdrawn: int = 0


def add_records(session: Session, bank: Bank, records: Iterable[BankRecord], *, source: str,
                actor: str, case_id: str | None = None, note: str | None = None) -> AddResult:
    """Add entries; an active entry with the same signal and value is not added twice.
    Records are written in batches with no ORM objects kept, so memory stays flat however
    many there are (a million rows: ~0.1 GB). Which keys may be present already is known
    from a sorted array of 8-byte digests of the keys added so far (8 MB per million); only
    those keys, or every key when the bank held active entries before, are looked up."""
    result = AddResult()
    had_entries = session.scalar(select(BankEntry.id).where(
        BankEntry.bank_id == bank.id, BankEntry.withdrawn_at.is_(None)).limit(1)) is not None
    seen = _SeenKeys()
    batch: list[BankRecord] = []
    with _bigger_sqlite_cache(session):
        for record in records:
            batch.append(record)
            if len(batch) >= _BATCH:
                _add_batch(session, bank, batch, source, actor, case_id, note, result, seen, had_entries)
                batch = []
        _add_batch(session, bank, batch, source, actor, case_id, note, result, seen, had_entries)
    audit.record(session, actor, "bank.add", bank.name, source=source, added=result.added,
                 duplicates=result.duplicates, case_id=case_id)
    return result


class _SeenKeys:
    """Digests of the keys added by one call, sorted: 'maybe added already' in O(log n)."""

    def __init__(self) -> None:
        self.sorted = np.empty(0, dtype=np.uint64)

    @staticmethod
    def digests(keys: list[tuple[str, str]]) -> np.ndarray:
        return np.array([int.from_bytes(hashlib.blake2b(f"{s}\0{k}".encode(), digest_size=8).digest())
                         for s, k in keys], dtype=np.uint64)

    def maybe(self, digests: np.ndarray) -> np.ndarray:
        if not len(self.sorted):
            return np.zeros(len(digests), dtype=bool)
        pos = np.minimum(np.searchsorted(self.sorted, digests), len(self.sorted) - 1)
        return self.sorted[pos] == digests

    def add(self, digests: np.ndarray) -> None:
        self.sorted = np.union1d(self.sorted, digests)


@contextmanager
def _bigger_sqlite_cache(session: Session) -> Iterator[None]:
    """SQLite's 2 MB page cache makes inserts into the value-key index of a large bank read
    pages again and again; 32 MB for the length of one import, then back."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    before = session.execute(text("PRAGMA cache_size")).scalar()
    session.execute(text("PRAGMA cache_size = -32768"))
    try:
        yield
    finally:
        session.execute(text(f"PRAGMA cache_size = {int(before or -2000)}"))


def _add_batch(session: Session, bank: Bank, batch: list[BankRecord], source: str, actor: str,
               case_id: str | None, note: str | None, result: AddResult, seen: _SeenKeys,
               had_entries: bool) -> None:
    if not batch:
        return
    keys = [(r.signal, r.value_key) for r in batch]
    digests = seen.digests(keys)
    maybe = seen.maybe(digests)
    by_signal: dict[str, set[str]] = {}
    for key, check in zip(keys, maybe, strict=True):
        if had_entries or check:
            by_signal.setdefault(key[0], set()).add(key[1])
    existing: set[tuple[str, str]] = set()
    for signal, key_set in by_signal.items():
        values = sorted(key_set)
        for lo in range(0, len(values), 500):
            existing.update((signal, key) for (key,) in session.execute(
                select(BankEntry.value_key)
                .where(BankEntry.bank_id == bank.id, BankEntry.withdrawn_at.is_(None),
                       BankEntry.signal == signal, BankEntry.value_key.in_(values[lo : lo + 500]))))
    now = utcnow()
    rows = []
    added: list[int] = []
    for n, (record, key) in enumerate(zip(batch, keys, strict=True)):
        if key in existing:
            result.duplicates += 1
            continue
        existing.add(key)  # a repeat later in this batch is a duplicate too
        added.append(n)
        rows.append({
            "bank_id": bank.id, "signal": record.signal, "value_key": record.value_key,
            "value": record.value, "quality": record.quality, "case_id": case_id or record.case_id,
            "external_id": record.external_id, "note": note or record.note,
            "attributes": record.attributes, "source": source, "added_at": record.added_at or now,
            "added_by": actor,
        })
    if rows:  # Core, not the ORM's bulk path: no per-row objects (3x faster here)
        session.execute(insert(BankEntry.__table__), rows)
        result.added += len(rows)
        seen.add(digests[added])
