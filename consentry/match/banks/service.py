"""Bank operations shared by the CLI and (later) the HTTP service: create, list, change,
delete, add entries, withdraw, export. Every change is written to the audit log.

Two layers: functions on a ``Session`` compose inside one transaction (tests, exchanges);
functions on a ``Database`` (``create``, ``add``, ``withdraw_hashes``, ``delete`` ...) are what
fronts call: they commit, then bring the bank index up to date themselves, so a front never
has to remember to. Fronts read banks and entries as the plain dataclasses below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentry.errors import ConfigError
from consentry.match.banks import index as bank_index
from consentry.match.banks.adding import AddResult, add_records
from consentry.match.banks.records import BankRecord, RecordError, records_from_item
from consentry.signals.hashing import catalogue
from consentry.store import audit
from consentry.store.db import Database
from consentry.store.tables.banks import Bank, BankEntry, Withdrawal
from consentry.store.tables.core import Item, utcnow

KINDS = ("ncii", "deepfake", "other", "allow")
SETTINGS = ("threshold", "quality_min", "enabled", "enabled_ratio", "dihedral", "video_query_pct",
            "video_target_pct", "description")
_BATCH = 5_000  # entries read per round trip by an export


@dataclass(frozen=True)
class BankInfo:
    """A bank's settings and entry counts, as fronts show them."""

    name: str
    kind: str
    enabled: bool
    threshold: int
    quality_min: int
    enabled_ratio: float
    dihedral: bool
    video_query_pct: float
    video_target_pct: float
    description: str | None
    created_at: datetime | None
    created_by: str
    entries: dict[str, int] = field(default_factory=dict)  # per hash type, and "withdrawn"

    def as_json(self) -> dict[str, Any]:
        return {"bank": self.name, "kind": self.kind, "enabled": self.enabled,
                "threshold": self.threshold, "quality_min": self.quality_min,
                "enabled_ratio": self.enabled_ratio, "dihedral": self.dihedral,
                "video_query_pct": self.video_query_pct, "video_target_pct": self.video_target_pct,
                "description": self.description, "created_at": self.created_at,
                "created_by": self.created_by, "entries": dict(self.entries)}


@dataclass(frozen=True)
class EntryInfo:
    entry_id: int
    signal: str
    hash: str  # the value key: the hash itself, or for vPDQ the SHA-256 of its value
    case_id: str | None
    note: str | None
    added_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {"entry_id": self.entry_id, "signal": self.signal, "hash": self.hash,
                "case_id": self.case_id, "note": self.note, "added_at": self.added_at}


# -- database-level operations: what fronts call ----------------------------------------


def create(db: Database, name: str, kind: str, actor: str, **settings: Any) -> BankInfo:
    with db.session() as session:
        bank = create_bank(session, name, kind, actor, **settings)
        return bank_info(session, bank)


def banks(db: Database) -> list[BankInfo]:
    with db.session() as session:
        return [bank_info(session, b) for b in list_banks(session)]


def show(db: Database, name: str, n_entries: int) -> tuple[BankInfo, list[EntryInfo]]:
    with db.session() as session:
        bank = get_bank(session, name)
        rows = session.scalars(_active_query(bank).limit(n_entries))
        return bank_info(session, bank), [_entry_info(e) for e in rows]


def change(db: Database, name: str, actor: str, **changes: Any) -> BankInfo:
    with db.session() as session:
        bank = get_bank(session, name)
        update_bank(session, bank, actor, **changes)
        return bank_info(session, bank)


def delete(db: Database, name: str, actor: str) -> int:
    with db.session() as session:
        n = delete_bank(session, get_bank(session, name), actor)
    bank_index.sync(db)
    return n


def require(db: Database, name: str) -> BankInfo:
    """The bank's info, or ConfigError when there is no such bank (checked first by fronts)."""
    with db.session() as session:
        return bank_info(session, get_bank(session, name))


def add(db: Database, name: str, records: Iterable[BankRecord], *, source: str, actor: str,
        case_id: str | None = None, note: str | None = None,
        withdrawals: Iterable[BankRecord] = (),
        before_commit: Callable[[], None] | None = None) -> AddResult:
    """Add entries in one transaction (streamed in batches), withdraw those the source says
    are withdrawn, then index them. ``before_commit`` may raise to roll everything back."""
    with db.session() as session:
        bank = get_bank(session, name)
        result = add_records(session, bank, records, source=source, actor=actor, case_id=case_id,
                             note=note)
        for record in withdrawals:  # read while the records streamed: iterate it only now
            result.withdrawn += len(withdraw(session, bank, actor, f"withdrawn at the source ({source})",
                                             hash_hex=record.value_key))
        if before_commit is not None:
            before_commit()
    bank_index.sync(db)  # new hashes are matchable now, without a rebuild
    return result


def withdraw_hashes(db: Database, name: str, actor: str, reason: str, *, hash_hex: str | None = None,
                    case_id: str | None = None) -> list[int]:
    with db.session() as session:
        ids = withdraw(session, get_bank(session, name), actor, reason, hash_hex=hash_hex,
                       case_id=case_id)
    bank_index.sync(db)
    return ids


def export(db: Database, name: str) -> Iterator[BankRecord]:
    """The bank's active entries, streamed in id order (the session stays open meanwhile)."""
    with db.session() as session:
        bank = get_bank(session, name)
        for entry in session.scalars(_active_query(bank).execution_options(yield_per=_BATCH)):
            yield to_record(entry)


def scan_records(db: Database, scan_id: int) -> list[BankRecord]:
    """Bank records for every hashed item of a past scan."""
    records: list[BankRecord] = []
    with db.session() as session:
        results = session.scalars(select(Item.result).where(Item.scan_id == scan_id, Item.status == "ok"))
        for result in results:
            try:
                records.extend(records_from_item(result or {}))
            except RecordError:
                continue  # an item without hashes (the hash signal did not run on it)
    if not records:
        raise ConfigError(f"scan {scan_id} has no hashed items")
    return records


# -- session-level operations ------------------------------------------------------------


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


def bank_info(session: Session, bank: Bank) -> BankInfo:
    created = bank.created_at
    if created is not None and created.tzinfo is None:  # SQLite gives naive UTC times back
        created = created.replace(tzinfo=UTC)
    return BankInfo(bank.name, bank.kind, bank.enabled, bank.threshold, bank.quality_min,
                    bank.enabled_ratio, bank.dihedral, bank.video_query_pct, bank.video_target_pct,
                    bank.description, created, bank.created_by, entry_counts(session, bank.id))


def bank_json(session: Session, bank: Bank) -> dict[str, Any]:
    return bank_info(session, bank).as_json()


def update_bank(session: Session, bank: Bank, actor: str, **changes: Any) -> None:
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise ConfigError(f"not a bank setting: {', '.join(sorted(unknown))}")
    for key, value in changes.items():
        setattr(bank, key, value)
    audit.record(session, actor, "bank.update", bank.name, **changes)


def delete_bank(session: Session, bank: Bank, actor: str) -> int:
    n = session.scalar(select(func.count()).where(BankEntry.bank_id == bank.id)) or 0
    audit.record(session, actor, "bank.delete", bank.name, kind=bank.kind, entries=n)
    session.delete(bank)
    return n


def withdraw(session: Session, bank: Bank, actor: str, reason: str, *, hash_hex: str | None = None,
             case_id: str | None = None) -> list[int]:
    """Withdraw the entries with this hash (or, for types whose value holds several hashes
    such as vPDQ, holding it as one of them) or this case id.
    Returns the withdrawn entry ids; they stop matching at once (the matcher re-checks)."""
    if not reason.strip():
        raise ConfigError("say why (--reason): withdrawals are audited")
    query = select(BankEntry).where(BankEntry.bank_id == bank.id, BankEntry.withdrawn_at.is_(None))
    if case_id is not None:
        query = query.where(BankEntry.case_id == case_id)
    elif hash_hex is not None:
        h = hash_hex.strip().lower()
        condition = BankEntry.value_key == h
        for htype in catalogue.all_types():
            if not htype.composite:
                continue
            condition = condition | ((BankEntry.signal == htype.name) & BankEntry.value.contains(h))
        query = query.where(condition)
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


def _active_query(bank: Bank) -> Any:
    return (select(BankEntry).where(BankEntry.bank_id == bank.id, BankEntry.withdrawn_at.is_(None))
            .order_by(BankEntry.id))


def active_entries(session: Session, bank: Bank) -> Iterable[BankEntry]:
    return session.scalars(_active_query(bank))


def _entry_info(entry: BankEntry) -> EntryInfo:
    added = entry.added_at
    if added is not None and added.tzinfo is None:
        added = added.replace(tzinfo=UTC)
    return EntryInfo(entry.id, entry.signal, entry.value_key, entry.case_id, entry.note, added)
