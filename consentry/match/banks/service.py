"""Bank operations shared by the CLI and (later) the HTTP service: create, list, change,
delete, add entries, withdraw. Every change is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentry.errors import ConfigError
from consentry.match.banks.records import BankRecord
from consentry.store import audit
from consentry.store.tables.banks import Bank, BankEntry, Withdrawal
from consentry.store.tables.core import utcnow

KINDS = ("ncii", "deepfake", "other", "allow")



def create_bank(session: Session, name: str, kind: str, actor: str, *, threshold: int = 31,
                quality_min: int = 50, enabled_ratio: float = 1.0, dihedral: bool = False,
                video_query_pct: float = 80.0, video_target_pct: float = 0.0,
                description: str | None = None) -> Bank:
    if kind not in KINDS:
        raise ConfigError(f"unknown bank kind {kind!r}; known: {', '.join(KINDS)}")
    if not name or len(name) > 100 or name.strip() != name:
        raise ConfigError("a bank name is 1-100 characters with no leading or trailing spaces")
    if session.scalar(select(Bank).where(Bank.name == name)) is not None:
        raise ConfigError(f"a bank named {name!r} already exists")
    if not 0 <= threshold <= 128:
        raise ConfigError("the threshold is a Hamming distance between 0 and 128")
    if not 0.0 <= enabled_ratio <= 1.0:
        raise ConfigError("the enabled ratio is between 0 and 1")
    bank = Bank(name=name, kind=kind, threshold=threshold, quality_min=quality_min,
                enabled=True, enabled_ratio=enabled_ratio, dihedral=dihedral,
                video_query_pct=video_query_pct, video_target_pct=video_target_pct,
                description=description, created_by=actor)
    session.add(bank)
    session.flush()
    audit.record(session, actor, "bank.create", name, kind=kind, threshold=threshold,
          quality_min=quality_min, enabled_ratio=enabled_ratio, dihedral=dihedral)
    return bank


def get_bank(session: Session, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        raise ConfigError(f"no bank named {name!r} (see `consentry bank list`)")
    return bank


def list_banks(session: Session) -> Sequence[Bank]:
    return session.scalars(select(Bank).order_by(Bank.name)).all()


def entry_counts(session: Session, bank_id: int) -> dict[str, int]:
    rows = session.execute(
        select(BankEntry.signal, BankEntry.withdrawn_at.is_(None), func.count())
        .where(BankEntry.bank_id == bank_id).group_by(BankEntry.signal, BankEntry.withdrawn_at.is_(None))
    ).all()
    counts: dict[str, int] = {}
    for signal, active, n in rows:
        key = signal if active else "withdrawn"
        counts[key] = counts.get(key, 0) + n
    return counts


def bank_json(session: Session, bank: Bank) -> dict[str, Any]:
    return {
        "bank": bank.name, "kind": bank.kind, "enabled": bank.enabled,
        "threshold": bank.threshold, "quality_min": bank.quality_min,
        "enabled_ratio": bank.enabled_ratio, "dihedral": bank.dihedral,
        "video_query_pct": bank.video_query_pct, "video_target_pct": bank.video_target_pct,
        "description": bank.description, "created_at": bank.created_at, "created_by": bank.created_by,
        "entries": entry_counts(session, bank.id),
    }


def update_bank(session: Session, bank: Bank, actor: str, **changes: Any) -> None:
    for key, value in changes.items():
        setattr(bank, key, value)
    audit.record(session, actor, "bank.update", bank.name, **changes)


def delete_bank(session: Session, bank: Bank, actor: str) -> int:
    n = session.scalar(select(func.count()).where(BankEntry.bank_id == bank.id)) or 0
    audit.record(session, actor, "bank.delete", bank.name, kind=bank.kind, entries=n)
    session.delete(bank)
    return n


@dataclass
class AddResult:
    added: int = 0
    duplicates: int = 0


def add_records(session: Session, bank: Bank, records: Iterable[BankRecord], *, source: str,
                actor: str, case_id: str | None = None, note: str | None = None) -> AddResult:
    """Add entries; an active entry with the same signal and value is not added twice."""
    existing = {(signal, key) for signal, key in session.execute(
        select(BankEntry.signal, BankEntry.value_key)
        .where(BankEntry.bank_id == bank.id, BankEntry.withdrawn_at.is_(None)))}
    result = AddResult()
    for record in records:
        key = (record.signal, record.value_key)
        if key in existing:
            result.duplicates += 1
            continue
        existing.add(key)
        session.add(BankEntry(
            bank_id=bank.id, signal=record.signal, value_key=record.value_key, value=record.value,
            quality=record.quality, case_id=case_id or record.case_id, external_id=record.external_id,
            note=note or record.note, attributes=record.attributes, source=source,
            added_at=record.added_at or utcnow(), added_by=actor,
        ))
        result.added += 1
    session.flush()
    audit.record(session, actor, "bank.add", bank.name, source=source, added=result.added,
          duplicates=result.duplicates, case_id=case_id)
    return result


def withdraw(session: Session, bank: Bank, actor: str, reason: str, *, hash_hex: str | None = None,
             case_id: str | None = None) -> list[int]:
    """Withdraw the entries with this hash (or holding it as a vPDQ frame) or this case id.
    Returns the withdrawn entry ids; they stop matching at once (the matcher re-checks)."""
    if not reason.strip():
        raise ConfigError("say why (--reason): withdrawals are audited")
    query = select(BankEntry).where(BankEntry.bank_id == bank.id, BankEntry.withdrawn_at.is_(None))
    if case_id is not None:
        query = query.where(BankEntry.case_id == case_id)
    elif hash_hex is not None:
        h = hash_hex.strip().lower()
        query = query.where((BankEntry.value_key == h)
                            | ((BankEntry.signal == "vpdq") & BankEntry.value.contains(h)))
    else:
        raise ConfigError("name a hash or a case id to withdraw")
    entries = session.scalars(query).all()
    now = utcnow()
    for entry in entries:
        entry.withdrawn_at = now
        session.add(Withdrawal(bank_id=bank.id, entry_id=entry.id, hash=entry.value_key,
                               case_id=case_id, reason=reason, actor=actor, at=now))
    audit.record(session, actor, "bank.withdraw", bank.name, hash=hash_hex, case_id=case_id,
          reason=reason, entries=[e.id for e in entries])
    return [e.id for e in entries]


def to_record(entry: BankEntry) -> BankRecord:
    added = entry.added_at
    if added is not None and added.tzinfo is None:  # SQLite gives naive UTC times back
        added = added.replace(tzinfo=UTC)
    return BankRecord(entry.signal, entry.value, entry.quality, entry.case_id, entry.external_id,
                      entry.note, dict(entry.attributes or {}), added)


def active_entries(session: Session, bank: Bank) -> Iterable[BankEntry]:
    return session.scalars(
        select(BankEntry).where(BankEntry.bank_id == bank.id, BankEntry.withdrawn_at.is_(None))
        .order_by(BankEntry.id)
    )
