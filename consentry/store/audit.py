"""The audit log: who did what to which record, and when. Every stage writes through here.

The log is a hash chain. Each row keeps ``content_digest`` (SHA-256 of its subject and
details) and ``row_hash`` = SHA-256 over the previous row's hash, its id, time, actor,
action and content digest. Editing a row breaks its digest or hash; deleting or inserting
one breaks the next row's link. ``verify`` walks the chain and names the first bad row.

Removing a person (consentry.store.erasure) rewrites that person's rows on purpose (name and
consent text out, a pseudonym in): their content no longer matches the digest, but the
chain over the digests still holds, and verify reports them as redacted, not tampered, when
the row is a likeness row under a removed person's pseudonym and a chained
``likeness.remove`` row names that pseudonym.

Rows are appended one writer at a time (a transaction-scoped advisory lock on PostgreSQL;
SQLite's single writer), so two transactions never chain onto the same row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentry.store.tables.core import AuditEntry, utcnow

# pg_advisory_xact_lock key serialising audit appends ("audi")
PG_AUDIT_LOCK = 0x61756469
GENESIS = "0" * 64
REMOVED_PREFIX = "person:removed-"


def record(session: Session, actor: str, action: str, subject: str, **details: Any) -> None:
    """Append one audit row in the caller's transaction (it commits with the change it records)."""
    details = json.loads(_canonical(details))  # what the JSON column will give back
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_AUDIT_LOCK})
    entry = AuditEntry(actor=actor, action=action, subject=subject, details=details, at=utcnow())
    session.add(entry)
    session.flush()  # takes SQLite's write lock and gives the id
    prev = session.scalar(select(AuditEntry.row_hash).where(AuditEntry.id < entry.id)
                          .order_by(AuditEntry.id.desc()).limit(1))
    entry.content_digest, entry.row_hash = chain_values(prev, entry.id, entry.at, actor, action,
                                                        subject, details)
    entry.prev_hash = prev
    session.flush()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def time_text(at: datetime | str) -> str:
    """A row's time exactly as its row hash covers it (UTC, microseconds, ``Z``)."""
    return _time_text(at)


def _time_text(at: datetime | str) -> str:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_digest(subject: str, details: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical({"subject": subject, "details": details}).encode()).hexdigest()


def chain_values(prev: str | None, entry_id: int, at: datetime | str, actor: str, action: str,
                 subject: str, details: dict[str, Any]) -> tuple[str, str]:
    """(content digest, row hash) of one row chained onto ``prev``."""
    digest = content_digest(subject, details)
    return digest, link_hash(prev, entry_id, at, actor, action, digest)


def link_hash(prev: str | None, entry_id: int, at: datetime | str, actor: str, action: str,
              digest: str) -> str:
    text = "\n".join([prev or GENESIS, str(entry_id), _time_text(at), actor, action, digest])
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class AuditRow:
    entry_id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    row_hash: str | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.entry_id, "at": _time_text(self.at), "actor": self.actor,
                "action": self.action, "subject": self.subject, "details": self.details,
                "hash": self.row_hash}


@dataclass(frozen=True)
class Verification:
    ok: bool
    rows: int
    redacted: int
    bad_row: int | None = None  # the id of the first bad row (or of the row after a gap)
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "redacted": self.redacted,
                "bad_row": self.bad_row, "problem": self.problem}


def _row(entry: AuditEntry) -> AuditRow:
    return AuditRow(entry.id, entry.at, entry.actor, entry.action, entry.subject,
                    dict(entry.details or {}), entry.row_hash)


def rows(session: Session, *, action: str | None = None, subject: str | None = None,
         after_id: int = 0, limit: int = 100) -> list[AuditRow]:
    query = select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if subject:
        query = query.where(AuditEntry.subject == subject)
    return [_row(e) for e in session.scalars(query)]


def _walk(session: Session) -> Iterator[AuditEntry]:
    yield from session.scalars(select(AuditEntry).order_by(AuditEntry.id)
                               .execution_options(yield_per=2000))


def verify(session: Session) -> Verification:
    """Walk the whole chain. The first row whose link, hash or content does not hold is named
    (a deleted row shows as the next row's broken link; an inserted one as its own)."""
    removed = {e.subject for e in _walk(session) if e.action == "likeness.remove"}
    prev: str | None = None
    n = redacted = 0
    for entry in _walk(session):
        n += 1
        if entry.row_hash is None or entry.content_digest is None:
            return Verification(False, n, redacted, entry.id, "row is not chained (no hash)")
        if entry.prev_hash != prev:
            return Verification(False, n, redacted, entry.id,
                                "link to the previous row is broken (a row was deleted or inserted)")
        if link_hash(prev, entry.id, entry.at, entry.actor, entry.action,
                     entry.content_digest) != entry.row_hash:
            return Verification(False, n, redacted, entry.id, "row hash does not match (row edited)")
        if content_digest(entry.subject, dict(entry.details or {})) != entry.content_digest:
            if not (entry.action.startswith("likeness.") and entry.subject.startswith(REMOVED_PREFIX)
                    and entry.subject in removed):
                return Verification(False, n, redacted, entry.id,
                                    "subject or details do not match the digest (row edited)")
            redacted += 1
        prev = entry.row_hash
    return Verification(True, n, redacted)
