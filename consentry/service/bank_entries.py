"""Small reads of bank entries by id that the HMA and native bank routes need beside the
bank service (consentry.match.banks.service): HMA addresses content by its id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from consentry.store.db import Database
from consentry.store.tables.banks import Bank, BankEntry


@dataclass(frozen=True)
class EntryRow:
    entry_id: int
    bank: str
    bank_ratio: float
    signal: str
    value: str
    value_key: str
    note: str | None
    case_id: str | None
    withdrawn_at: datetime | None


def entry(db: Database, bank: str, entry_id: int) -> EntryRow | None:
    with db.session() as session:
        row = session.execute(
            select(BankEntry, Bank).join(Bank, Bank.id == BankEntry.bank_id)
            .where(BankEntry.id == entry_id, Bank.name == bank)).first()
        if row is None:
            return None
        e, b = row
        withdrawn = e.withdrawn_at.replace(tzinfo=UTC) if e.withdrawn_at and e.withdrawn_at.tzinfo is None \
            else e.withdrawn_at
        return EntryRow(e.id, b.name, b.enabled_ratio if b.enabled else 0.0, e.signal, e.value,
                        e.value_key, e.note, e.case_id, withdrawn)


def active_entry_id(db: Database, bank: str, signal: str, value_key: str) -> int | None:
    """The id of the active entry holding this value (what an add just wrote or found)."""
    with db.session() as session:
        return session.scalar(
            select(BankEntry.id).join(Bank, Bank.id == BankEntry.bank_id)
            .where(Bank.name == bank, BankEntry.signal == signal, BankEntry.value_key == value_key,
                   BankEntry.withdrawn_at.is_(None)).order_by(BankEntry.id.desc()).limit(1))
