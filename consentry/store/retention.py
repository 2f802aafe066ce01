"""Media kept for review, encrypted at rest, and deleted when it is no longer needed.

Retention is off unless the service is configured for review (consentry.service.ui.settings).
Then an item the policy sends to review keeps its bytes here: each file is encrypted with
AES-256-GCM under a random key of its own (the item id is the associated data, so a file
cannot be swapped onto another item), and that key is stored in ``retained_media`` wrapped
(AES-GCM again) by the service's key. The media stays while the item is in review; a decision
sets ``delete_after`` = decision time + the configured days (an appeal clears it again);
``purge`` then deletes the file and the wrapped key, so neither a stray copy of the file nor a
backup of the database can be read without the other.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentry.errors import ConfigError
from consentry.store.db import Database
from consentry.store.tables.core import utcnow
from consentry.store.tables.review import RetainedMedia

_NONCE = 12


def _aes(key: bytes):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _seal(key: bytes, data: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE)
    return nonce + _aes(key).encrypt(nonce, data, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    return _aes(key).decrypt(blob[:_NONCE], blob[_NONCE:], aad)


@dataclass(frozen=True)
class Retained:
    item_id: int
    kind: str | None
    size: int
    delete_after: datetime | None
    deleted_at: datetime | None

    @property
    def available(self) -> bool:
        return self.deleted_at is None


class MediaVault:
    def __init__(self, db: Database, folder: Path, key: bytes, keep_days: float) -> None:
        if len(key) != 32:
            raise ConfigError("the review media key is 32 bytes (base64 of 32 random bytes)")
        self.db = db
        self.folder = folder
        self.key = key
        self.keep_days = keep_days

    def keep(self, item_id: int, data: bytes, kind: str | None) -> None:
        """Keep an item's media for review (again: replaces what was kept)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        file_key = secrets.token_bytes(32)
        aad = str(item_id).encode()
        path = self.folder / f"{item_id}.bin"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(_seal(file_key, data, aad))
        os.replace(tmp, path)
        with self.db.session() as session:
            row = session.get(RetainedMedia, item_id) or RetainedMedia(item_id=item_id)
            row.path, row.kind, row.size = str(path), kind, len(data)
            row.wrapped_key = _seal(self.key, file_key, aad)
            row.stored_at, row.delete_after, row.deleted_at = utcnow(), None, None
            session.add(row)

    def info(self, item_id: int) -> Retained | None:
        with self.db.session() as session:
            row = session.get(RetainedMedia, item_id)
            if row is None:
                return None
            return Retained(item_id, row.kind, row.size, row.delete_after, row.deleted_at)

    def read(self, item_id: int) -> bytes | None:
        """The media's bytes while they are kept, else None."""
        with self.db.session() as session:
            row = session.get(RetainedMedia, item_id)
            if row is None or row.deleted_at is not None or row.wrapped_key is None:
                return None
            wrapped, path = row.wrapped_key, Path(row.path)
        aad = str(item_id).encode()
        from cryptography.exceptions import InvalidTag

        try:
            return _open(_open(self.key, wrapped, aad), path.read_bytes(), aad)
        except FileNotFoundError:
            return None
        except InvalidTag:
            raise ConfigError(f"the review media key does not open item {item_id}'s kept media "
                              "(is CONSENTRY_REVIEW_MEDIA_KEY the key the service kept it with?)") from None

    def schedule(self, session: Session, item_id: int, *, at: datetime | None = None) -> None:
        """The item was decided: its media goes ``keep_days`` after ``at`` (default now)."""
        row = session.get(RetainedMedia, item_id)
        if row is not None and row.deleted_at is None:
            row.delete_after = (at or utcnow()) + timedelta(days=self.keep_days)

    def reopen(self, session: Session, item_id: int) -> None:
        """Back in review (an appeal): kept again until the next decision, if still here."""
        row = session.get(RetainedMedia, item_id)
        if row is not None and row.deleted_at is None:
            row.delete_after = None

    def purge(self, now: datetime | None = None) -> int:
        """Delete every kept media whose time is up; returns how many."""
        return len(purge_expired(self.db, now))


# The audit actor of the purges the service runs on its own (job workers, the UI).
SCHEDULE_ACTOR = "consentry:retention"


def due(db: Database, now: datetime | None = None) -> list[Retained]:
    """The kept media whose time is up (what ``purge_expired`` would delete now)."""
    now = now or utcnow()
    with db.session() as session:
        rows = session.scalars(_due_query(now)).all()
        return [Retained(r.item_id, r.kind, r.size, r.delete_after, r.deleted_at) for r in rows]


def _due_query(now: datetime):  # type: ignore[no-untyped-def]
    return select(RetainedMedia).where(
        RetainedMedia.deleted_at.is_(None), RetainedMedia.delete_after.is_not(None),
        RetainedMedia.delete_after <= now).order_by(RetainedMedia.item_id)


def purge_expired(db: Database, now: datetime | None = None, *, actor: str = SCHEDULE_ACTOR) -> list[int]:
    """Delete every kept media whose time is up; returns their item ids. Works without the key:
    deleting needs none. A purge that deleted anything is one audit row (``review.media_purge``)
    in the same transaction."""
    from consentry.store import audit

    now = now or utcnow()
    gone: list[int] = []
    with db.session() as session:
        for row in session.scalars(_due_query(now)).all():
            Path(row.path).unlink(missing_ok=True)
            row.wrapped_key, row.deleted_at = None, now
            gone.append(row.item_id)
        if gone:
            audit.record(session, actor, "review.media_purge", "retained_media", items=gone)
    if gone:
        db.flush_deleted()  # the wrapped keys leave SQLite's write-ahead log too
    return gone
