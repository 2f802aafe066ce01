"""The bank indexes beside the database (``Database.sidecar_dir/banks``): one MIH index per
hash type that uses one (PDQ: every banked hash; vPDQ: every distinct banked frame hash),
payload = the entry id. Digest types (MD5, SHA-256) need none: the database looks them up.

The database is the truth; the index is a cache of it. ``sync`` adds the entries written since
the index was saved (new hashes are matchable without a rebuild), hides withdrawn ones, and
rebuilds from scratch only when the index is missing, unreadable or ahead of the database.
The matcher still re-reads every hit's entry and bank, so a withdrawal or a disabled bank
stops matching at once, even in a scan that loaded the index earlier.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from consentry.signals.hashing import catalogue
from consentry.signals.hashing.base import HashType
from consentry.signals.hashing.mih import MIHIndex, hex_to_words
from consentry.store.db import Database
from consentry.store.tables.banks import BankEntry

log = logging.getLogger(__name__)
_BATCH = 50_000


def index_dir(db: Database) -> Path:
    return db.sidecar_dir / "banks"


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def indexed_types() -> tuple[type[HashType], ...]:
    return catalogue.with_index(MIHIndex)


def sync(db: Database) -> dict[str, MIHIndex]:
    """Bring every hash type's index up to date with the database and return them by name."""
    folder = index_dir(db)
    with _locked(folder):
        return {t.name: _sync_one(db, folder / t.name, t) for t in indexed_types()}


def _sync_one(db: Database, path: Path, htype: type[HashType]) -> MIHIndex:
    signal = htype.name
    index = _load(path)
    watermark = int(index.meta.get("max_id", 0)) if index else 0
    with db.session() as session:
        of_signal = BankEntry.signal == signal
        max_id = session.scalar(select(func.max(BankEntry.id)).where(of_signal)) or 0
        # Entries the index already covers: fewer than it holds means some were deleted (or
        # this is another database behind the same path): rebuild rather than trust it.
        covered = session.scalar(select(func.count()).where(of_signal, BankEntry.id <= watermark))
        withdrawn = set(session.scalars(
            select(BankEntry.id).where(of_signal, BankEntry.withdrawn_at.is_not(None))))
    if index is None or watermark > max_id or covered != index.meta.get("entries"):
        index, watermark = MIHIndex(), 0
        index.meta = {"max_id": 0, "entries": 0}
    changed = False
    if watermark < max_id:
        words, payload, n_entries = _rows_after(db, htype, watermark)
        index.add(words, payload)
        index.meta = {"max_id": max_id, "entries": index.meta.get("entries", 0) + n_entries}
        changed = True
    if withdrawn != index.removed:
        index.removed = withdrawn
        changed = True
    if changed:
        index.save(path)
        index = _load(path) or index  # memory-mapped from disk again
    return index


def _load(path: Path) -> MIHIndex | None:
    if not (path / "manifest.json").exists():
        return None
    try:
        return MIHIndex.load(path)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("bank index at %s is unreadable (%s): rebuilding it", path, exc)
        return None


def _rows_after(db: Database, htype: type[HashType], watermark: int
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """The index rows of entries after ``watermark``, converted to words a batch at a time
    (a million hex strings held at once would be ~0.2 GB)."""
    words: list[np.ndarray] = []
    payload: list[np.ndarray] = []
    n_entries = 0
    with db.session() as session:
        rows = session.execute(
            select(BankEntry.id, BankEntry.value)
            .where(BankEntry.signal == htype.name, BankEntry.id > watermark).order_by(BankEntry.id)
            .execution_options(yield_per=_BATCH)
        )
        for batch in rows.partitions():
            hashes: list[str] = []
            ids: list[int] = []
            for entry_id, value in batch:
                n_entries += 1
                for key in htype.index_keys(value):  # vPDQ: one row per distinct frame hash
                    hashes.append(key)
                    ids.append(entry_id)
            words.append(hex_to_words(hashes))
            payload.append(np.array(ids, dtype=np.int64))
    if not words:
        return np.empty((0, 4), dtype=np.uint64), np.empty(0, dtype=np.int64), 0
    return np.concatenate(words), np.concatenate(payload), n_entries
