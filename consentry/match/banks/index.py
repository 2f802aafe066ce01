"""The bank indexes beside the database (``Database.sidecar_dir/banks``): one MIH index of
every banked PDQ hash and one of every banked vPDQ frame, payload = the entry id.

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

from consentry.match.banks.records import parse_vpdq
from consentry.signals.hashing.mih import MIHIndex, hex_to_words
from consentry.store.db import Database
from consentry.store.tables.banks import BankEntry

log = logging.getLogger(__name__)
KINDS = ("pdq", "vpdq")
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


def sync(db: Database) -> dict[str, MIHIndex]:
    """Bring both indexes up to date with the database and return them."""
    folder = index_dir(db)
    with _locked(folder):
        return {kind: _sync_one(db, folder / kind, kind) for kind in KINDS}


def _sync_one(db: Database, path: Path, signal: str) -> MIHIndex:
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
        words, payload, n_entries = _rows_after(db, signal, watermark)
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


def _rows_after(db: Database, signal: str, watermark: int) -> tuple[np.ndarray, np.ndarray, int]:
    hashes: list[str] = []
    payload: list[int] = []
    n_entries = 0
    with db.session() as session:
        rows = session.execute(
            select(BankEntry.id, BankEntry.value)
            .where(BankEntry.signal == signal, BankEntry.id > watermark).order_by(BankEntry.id)
            .execution_options(yield_per=_BATCH)
        )
        for entry_id, value in rows:
            n_entries += 1
            if signal == "pdq":
                hashes.append(value)
                payload.append(entry_id)
            else:  # one index row per distinct frame hash of the video
                for frame_hash in dict.fromkeys(f.hash for f in parse_vpdq(value)):
                    hashes.append(frame_hash)
                    payload.append(entry_id)
    return hex_to_words(hashes), np.array(payload, dtype=np.int64), n_entries
