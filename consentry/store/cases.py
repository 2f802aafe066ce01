"""Victim cases, stored: the case row (random number, argon2-hashed PIN, status, consent),
PIN checks with a lock after repeated failures, contact notes, and the counts a case's
status shows (its entries in the case bank, the matches they found: counts and dates only).

Bank changes (the case's hashes in, out, shared) are not here (the store never imports the
match stage): consentry.actions.cases composes them with these functions in one transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentry.errors import ConfigError
from consentry.store import audit
from consentry.store.tables.banks import Bank, BankEntry, BankMatch
from consentry.store.tables.cases import CaseNote, VictimCase
from consentry.store.tables.core import utcnow

STATUSES = ("active", "withdrawn")
PIN_DIGITS = 10  # 10^10 PINs; with the lock after a few failures, guessing one is hopeless
_NUMBER_LOW, _NUMBER_HIGH = 10_000_000, 99_999_999  # 8 digits: easy to read out on a phone


class CaseNotFound(ConfigError):
    pass


def tag(number: int) -> str:
    """The ``case_id`` the case's bank entries carry."""
    return f"case-{number}"


def aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite gives naive UTC times back
        return value.replace(tzinfo=UTC)
    return value


def _hasher():  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    return PasswordHasher()


def new_pin() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))


def normalise_pin(pin: str) -> str:
    """What the victim typed, less the spaces and dashes people add when they copy it."""
    return "".join(ch for ch in str(pin) if ch not in " -\t")


@dataclass(frozen=True)
class CaseInfo:
    number: int
    status: str
    items: int
    created_at: datetime
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    consent_share: bool
    consent_at: datetime | None
    consent_by: str | None
    consent_how: str | None
    shared_at: datetime | None
    hashes: dict[str, int] = field(default_factory=dict)  # "active", "withdrawn"
    matches: list[tuple[date, int]] = field(default_factory=list)  # per day

    @property
    def tag(self) -> str:
        return tag(self.number)

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def shareable(self) -> bool:
        """Its hashes may be in a partner feed: active and the victim consented."""
        return self.active and self.consent_share

    def victim_json(self) -> dict[str, Any]:
        """What the victim sees with the PIN: their own case only, never anyone's media."""
        return {"case": self.number, "status": self.status, "created": self.created_at,
                "withdrawn": self.withdrawn_at,
                "hashes": {"active": self.hashes.get("active", 0),
                           "withdrawn": self.hashes.get("withdrawn", 0)},
                "matches": {"count": sum(n for _d, n in self.matches),
                            "dates": [{"date": d.isoformat(), "count": n} for d, n in self.matches]},
                "shared_with_partners": self.shareable and self.shared_at is not None}

    def staff_json(self) -> dict[str, Any]:
        return {**self.victim_json(), "items": self.items, "withdrawn_by": self.withdrawn_by,
                "consent": {"share": self.consent_share, "at": self.consent_at, "by": self.consent_by,
                            "how": self.consent_how},
                "shared_at": self.shared_at}


@dataclass(frozen=True)
class NoteInfo:
    author: str
    text: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"author": self.author, "text": self.text, "at": self.at}


@dataclass(frozen=True)
class PinCheck:
    """A PIN check's outcome: ``ok``, or refused (wrong, or the case is locked until ...)."""

    ok: bool
    locked_until: datetime | None = None


def create(session: Session, pin: str, items: int) -> VictimCase:
    """A new active case with a fresh random number (the PIN is kept only as its hash)."""
    for _ in range(20):
        number = _NUMBER_LOW + secrets.randbelow(_NUMBER_HIGH - _NUMBER_LOW + 1)
        if session.scalar(select(VictimCase.id).where(VictimCase.number == number)) is None:
            break
    else:  # pragma: no cover - 90 million numbers
        raise ConfigError("could not find a free case number")
    row = VictimCase(number=number, status="active", pin_hash=_hasher().hash(normalise_pin(pin)),
                     items=items, created_at=utcnow(), consent_share=False, pin_failures=0)
    session.add(row)
    session.flush()
    return row


def get(session: Session, number: int, *, for_update: bool = False) -> VictimCase:
    query = select(VictimCase).where(VictimCase.number == number)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise CaseNotFound(f"no case {number} (see `consentry case list`)")
    return row


def check_pin(session: Session, number: int, pin: str, *, max_failures: int, lock_s: float) -> PinCheck:
    """Check a PIN, counting failures: after ``max_failures`` wrong PINs in a row the case is
    locked for ``lock_s`` (a right PIN is refused too meanwhile). An unknown number answers
    as a wrong PIN does. The caller commits even when the check fails (the count must stay)."""
    try:
        row = get(session, number, for_update=True)
    except CaseNotFound:
        return PinCheck(False)
    now = utcnow()
    locked = aware(row.locked_until)
    if locked is not None and locked > now:
        return PinCheck(False, locked)
    from argon2.exceptions import VerificationError

    try:
        _hasher().verify(row.pin_hash, normalise_pin(pin))
    except VerificationError:
        row.pin_failures = (row.pin_failures or 0) + 1
        if row.pin_failures >= max_failures:
            row.pin_failures = 0
            row.locked_until = now + timedelta(seconds=lock_s)
            audit.record(session, "victim", "case.locked", f"case:{number}",
                         failures=max_failures, until=row.locked_until)
            return PinCheck(False, aware(row.locked_until))
        return PinCheck(False)
    row.pin_failures = 0
    row.locked_until = None
    return PinCheck(True)


def info(session: Session, row: VictimCase, bank_id: int | None) -> CaseInfo:
    """The case with its hash counts and its matches per day in the case bank ``bank_id``."""
    hashes: dict[str, int] = {}
    days: dict[date, int] = {}
    if bank_id is not None:
        of_case = (BankEntry.bank_id == bank_id) & (BankEntry.case_id == tag(row.number))
        for active, n in session.execute(select(BankEntry.withdrawn_at.is_(None), func.count())
                                         .where(of_case).group_by(BankEntry.withdrawn_at.is_(None))):
            hashes["active" if active else "withdrawn"] = int(n)
        # An upload matching the PDQ and the MD5 of one picture is one match: items are
        # counted, per day (here, not in SQL: date functions differ between the databases).
        seen: set[int] = set()
        for item_id, at in session.execute(
                select(BankMatch.item_id, BankMatch.at).join(BankEntry, BankEntry.id == BankMatch.entry_id)
                .where(of_case, BankMatch.bank_id == bank_id).order_by(BankMatch.at)):
            if item_id in seen:
                continue
            seen.add(item_id)
            day = (aware(at) or utcnow()).date()
            days[day] = days.get(day, 0) + 1
    return CaseInfo(row.number, row.status, row.items, aware(row.created_at) or utcnow(),
                    aware(row.withdrawn_at), row.withdrawn_by, bool(row.consent_share),
                    aware(row.consent_at), row.consent_by, row.consent_how, aware(row.shared_at),
                    hashes, sorted(days.items()))


def bank_id(session: Session, name: str) -> int | None:
    return session.scalar(select(Bank.id).where(Bank.name == name))


def listing(session: Session, bank_name: str, *, status: str | None = None, limit: int = 500
            ) -> list[CaseInfo]:
    """Newest first."""
    query = select(VictimCase).order_by(VictimCase.id.desc()).limit(limit)
    if status is not None:
        if status not in STATUSES:
            raise ConfigError(f"status is one of {', '.join(STATUSES)}")
        query = query.where(VictimCase.status == status)
    bid = bank_id(session, bank_name)
    return [info(session, row, bid) for row in session.scalars(query)]


def mark_withdrawn(session: Session, row: VictimCase, actor: str) -> None:
    row.status = "withdrawn"
    row.withdrawn_at = utcnow()
    row.withdrawn_by = actor


def add_note(session: Session, row: VictimCase, author: str, text: str) -> None:
    text = text.strip()
    if not text or len(text) > 4000:
        raise ConfigError("a note is 1-4000 characters")
    session.add(CaseNote(case_id=row.id, author=author, text=text, at=utcnow()))
    # The audit row says a note was added, not what it says (notes may hold contact details).
    audit.record(session, author, "case.note", f"case:{row.number}", characters=len(text))


def notes(session: Session, row: VictimCase) -> list[NoteInfo]:
    return [NoteInfo(n.author, n.text, aware(n.at) or utcnow())
            for n in session.scalars(select(CaseNote).where(CaseNote.case_id == row.id)
                                     .order_by(CaseNote.id))]


def set_consent(session: Session, row: VictimCase, actor: str, given: bool, how: str) -> None:
    how = how.strip()
    if given and not how:
        raise ConfigError("say how the victim gave consent (e.g. 'by phone, 2026-12-01, read back')")
    if len(how) > 1000:
        raise ConfigError("how consent was given: at most 1000 characters")
    row.consent_share = given
    row.consent_at = utcnow()
    row.consent_by = actor
    row.consent_how = how or None
    audit.record(session, actor, "case.consent", f"case:{row.number}", share=given, how=how or None)
