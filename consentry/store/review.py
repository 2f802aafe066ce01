"""Human review, stored: people's accounts (argon2 passwords), sign-in sessions that expire,
failed sign-ins counted from the audit log, claims that expire, each item's review case and
its decisions, and the queue of items the policy sent to review.

Bank changes a decision makes are not here (the store never imports the match stage):
consentry.service.ui.decisions composes them with these functions in one transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from consentry.errors import ConfigError
from consentry.store import audit
from consentry.store.db import Database
from consentry.store.tables.core import AuditEntry, Item, utcnow
from consentry.store.tables.review import (
    ReviewCase,
    ReviewClaim,
    ReviewDecision,
    Reviewer,
    ReviewSession,
)
from consentry.store.tables.verdicts import Verdict

PEOPLE_ROLES = ("reviewer", "senior_reviewer", "operator", "admin")
# States in which an item waits in the queue (and who may decide it there).
WAITING = {"open": ("reviewer", "senior_reviewer"), "escalated": ("senior_reviewer",),
           "appealed": ("senior_reviewer",)}
_PRIORITY = {"high": 0, "normal": 1, "low": 2}


def aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite gives naive UTC times back
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class Person:
    reviewer_id: int
    name: str
    role: str
    blur_percent: int

    @property
    def actor(self) -> str:
        """The audit actor for what this person does."""
        return f"person:{self.name}"


def _person(row: Reviewer) -> Person:
    return Person(row.id, row.name, row.role, row.blur_percent)


def _hasher():  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    return PasswordHasher()


# -- accounts -----------------------------------------------------------------------------


def create_person(db: Database, name: str, role: str, password: str, actor: str) -> Person:
    if role not in PEOPLE_ROLES:
        raise ConfigError(f"unknown role {role!r}; roles: {', '.join(PEOPLE_ROLES)}")
    if not name.strip() or len(name) > 100 or name != name.strip():
        raise ConfigError("a name is 1-100 characters with no leading or trailing spaces")
    if len(password) < 12:
        raise ConfigError("a password is at least 12 characters")
    with db.session() as session:
        if session.scalar(select(Reviewer).where(Reviewer.name == name)) is not None:
            raise ConfigError(f"someone named {name!r} already has an account")
        row = Reviewer(name=name, role=role, password_hash=_hasher().hash(password),
                       blur_percent=100, created_by=actor, created_at=utcnow())
        session.add(row)
        session.flush()
        audit.record(session, actor, "person.create", f"person:{name}", role=role)
        return _person(row)


def list_people(db: Database) -> list[Person]:
    with db.session() as session:
        return [_person(r) for r in session.scalars(select(Reviewer).order_by(Reviewer.name))]


def set_blur(db: Database, person: Person, percent: int) -> None:
    with db.session() as session:
        row = session.get(Reviewer, person.reviewer_id)
        if row is not None:
            row.blur_percent = percent
            audit.record(session, person.actor, "review.blur", f"person:{person.name}", percent=percent)


def failed_signins(db: Database, name: str, window_s: float) -> int:
    since = utcnow() - timedelta(seconds=window_s)
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "ui.signin_failed", AuditEntry.subject == f"person:{name}",
            AuditEntry.at >= since)) or 0)


def failed_signins_from(db: Database, address: str, window_s: float) -> int:
    """Failed sign-ins from one client address (any name) within the window: guessing across
    many names from one place is limited too."""
    since = utcnow() - timedelta(seconds=window_s)
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "ui.signin_failed", AuditEntry.actor == f"ui:{address}",
            AuditEntry.at >= since)) or 0)


def check_password(db: Database, name: str, password: str) -> Person | None:
    """The person when the name and password are right and the account is enabled."""
    from argon2.exceptions import VerificationError

    with db.session() as session:
        row = session.scalar(select(Reviewer).where(Reviewer.name == name))
        stored = row.password_hash if row is not None else None
        person = _person(row) if row is not None and row.disabled_at is None else None
    try:  # an unknown name costs the same argon2 time as a wrong password
        _hasher().verify(stored or _dummy_hash(), password)
    except VerificationError:
        return None
    return person


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(_hasher().hash(secrets.token_urlsafe(16)))
    return _DUMMY[0]


# -- sessions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    session_id: int
    person: Person
    csrf: str
    items_seen: tuple[int, ...]
    seen_at_break: int
    revealed: tuple[int, ...]
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Database, person: Person, max_s: float) -> str:
    """A new session; returns the cookie's token (kept only as a hash)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.session() as session:
        session.add(ReviewSession(token_hash=_token_hash(token), reviewer_id=person.reviewer_id,
                                  csrf=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
                                  expires_at=now + timedelta(seconds=max_s), items_seen=[],
                                  seen_at_break=0, revealed=[]))
        audit.record(session, person.actor, "ui.signin", f"person:{person.name}")
    return token


def resume_session(db: Database, token: str, idle_s: float) -> SignIn | None:
    """The live session of this token (touching it), or None when unknown, ended, past its
    lifetime or idle for longer than ``idle_s``."""
    now = utcnow()
    with db.session() as session:
        row = session.scalar(select(ReviewSession).where(ReviewSession.token_hash == _token_hash(token)))
        if row is None or row.ended_at is not None:
            return None
        person_row = session.get(Reviewer, row.reviewer_id)
        expires = aware(row.expires_at)
        idle_until = aware(row.last_seen_at) + timedelta(seconds=idle_s)  # type: ignore[operator]
        if person_row is None or person_row.disabled_at is not None or expires <= now or idle_until <= now:  # type: ignore[operator]
            row.ended_at = row.ended_at or now
            return None
        row.last_seen_at = now
        return SignIn(row.id, _person(person_row), row.csrf, tuple(row.items_seen or ()),
                      row.seen_at_break, tuple(row.revealed or ()), expires)  # type: ignore[arg-type]


def end_session(db: Database, session_id: int) -> None:
    with db.session() as session:
        row = session.get(ReviewSession, session_id)
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()


def note_seen(db: Database, session_id: int, item_id: int) -> None:
    with db.session() as session:
        row = session.get(ReviewSession, session_id)
        if row is not None and item_id not in (row.items_seen or []):
            row.items_seen = [*(row.items_seen or []), item_id]


def take_break(db: Database, session_id: int) -> None:
    with db.session() as session:
        row = session.get(ReviewSession, session_id)
        if row is not None:
            row.seen_at_break = len(row.items_seen or [])


def note_reveal(session: Session, session_id: int, item_id: int) -> None:
    row = session.get(ReviewSession, session_id)
    if row is not None and item_id not in (row.revealed or []):
        row.revealed = [*(row.revealed or []), item_id]


# -- claims -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    item_id: int
    name: str
    expires_at: datetime


def active_claim(session: Session, item_id: int) -> Claim | None:
    row = session.get(ReviewClaim, item_id)
    if row is None or aware(row.expires_at) <= utcnow():  # type: ignore[operator]
        return None
    who = session.get(Reviewer, row.reviewer_id)
    return Claim(item_id, who.name if who else "?", aware(row.expires_at))  # type: ignore[arg-type]


def claim(db: Database, item_id: int, person: Person, ttl_s: float) -> Claim:
    """Take the item (or renew one's own claim); ConfigError when someone else holds it."""
    with db.session() as session:
        held = active_claim(session, item_id)
        if held is not None and held.name != person.name:
            raise ConfigError(f"item {item_id} is taken by {held.name} until "
                              f"{held.expires_at:%H:%M} UTC")
        row = session.get(ReviewClaim, item_id)
        expires = utcnow() + timedelta(seconds=ttl_s)
        if row is None:
            session.add(ReviewClaim(item_id=item_id, reviewer_id=person.reviewer_id,
                                    claimed_at=utcnow(), expires_at=expires))
        else:
            row.reviewer_id, row.claimed_at, row.expires_at = person.reviewer_id, utcnow(), expires
        return Claim(item_id, person.name, expires)


def release(session: Session, item_id: int, person: Person | None = None) -> None:
    row = session.get(ReviewClaim, item_id)
    if row is not None and (person is None or row.reviewer_id == person.reviewer_id):
        session.delete(row)


# -- cases and decisions ------------------------------------------------------------------


def case_row(session: Session, item_id: int, *, lock: bool = False) -> ReviewCase | None:
    query = select(ReviewCase).where(ReviewCase.item_id == item_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def state_of(session: Session, item_id: int) -> str | None:
    """The item's review state: None when it never went to review."""
    row = case_row(session, item_id)
    if row is not None:
        return row.state
    action = session.scalar(select(Verdict.action).where(Verdict.item_id == item_id))
    return "open" if action == "review" else None


def record_decision(session: Session, item_id: int, actor: str, role: str, decision: str,
                    new_state: str, *, bank: str | None = None, label: str | None = None,
                    note: str | None = None, entries: int = 0, case_id: str | None = None) -> None:
    row = case_row(session, item_id, lock=True)
    if row is None:
        row = ReviewCase(item_id=item_id, state=new_state)
        session.add(row)
    row.state, row.updated_at = new_state, utcnow()
    if decision in ("confirm", "reject") and bank is not None:
        row.bank, row.label, row.case_id = bank, label, case_id
    session.add(ReviewDecision(item_id=item_id, actor=actor, role=role, decision=decision, bank=bank,
                               label=label, note=note, entries=entries, at=utcnow()))
    audit.record(session, actor, "review.decision", f"item:{item_id}", decision=decision,
                 state=new_state, bank=bank, label=label, note=note, entries=entries)


def decisions(session: Session, item_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(ReviewDecision).where(ReviewDecision.item_id == item_id)
                           .order_by(ReviewDecision.id))
    return [{"decision": r.decision, "actor": r.actor, "role": r.role, "bank": r.bank,
             "label": r.label, "note": r.note, "entries": r.entries, "at": aware(r.at)} for r in rows]


# -- the queue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    item_id: int
    path: str
    kind: str | None
    priority: str | None
    state: str
    reasons: list[dict[str, Any]]
    result: dict[str, Any]
    queued_at: datetime
    claim: Claim | None


def queue(session: Session, *, role: str, since: datetime | None = None, until: datetime | None = None,
          limit: int = 2000) -> list[QueueRow]:
    """Items waiting for review that ``role`` may see, by priority then age (oldest first).
    Filters on what the item's JSON holds (bank, signal, reason, source) are applied by the
    caller over these rows."""
    states = [s for s, roles in WAITING.items() if role in roles or role in ("operator", "admin")]
    state = func.coalesce(ReviewCase.state, "open")
    rank = case(*((Verdict.priority == p, n) for p, n in _PRIORITY.items()), else_=3)
    query = (select(Item, Verdict, state)
             .join(Verdict, Verdict.item_id == Item.id)
             .outerjoin(ReviewCase, ReviewCase.item_id == Item.id)
             .where(state.in_(states))
             .where((Verdict.action == "review") | ReviewCase.state.is_not(None))
             .order_by(rank, Verdict.decided_at, Item.id).limit(limit))
    if since is not None:
        query = query.where(Verdict.decided_at >= since)
    if until is not None:
        query = query.where(Verdict.decided_at < until)
    rows = []
    for item, verdict, st in session.execute(query):
        rows.append(QueueRow(item.id, item.path, item.kind, verdict.priority, st,
                             list(verdict.reasons or []), dict(item.result or {}),
                             aware(verdict.decided_at), active_claim(session, item.id)))  # type: ignore[arg-type]
    return rows
