"""Victim cases end to end, one set of rules for the API, the UI and the CLI.

A victim opens a case by sending the submission file ``consentry hash`` or the offline page
wrote (hashes only). Its hashes go into the helpline's case bank (an NCII bank, created on
first use), every entry tagged with the case, so scans and lookups match them through the
ordinary banks. Withdrawing the case (the victim with the PIN, or staff) withdraws exactly
those entries in one transaction: they stop matching at once.

Sharing: partners follow the *share bank*'s feed (``/v1/feeds/{bank}``). A case worker who
recorded the victim's consent copies the case's active hashes there; withdrawing the case or
the consent withdraws those copies, so the feed shows them withdrawn. The share bank is
disabled for matching here (the case bank already matches them). The case bank itself is
never fed to partners (consentry.service.v1_feeds refuses it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from consentry.errors import ConfigError
from consentry.match.banks import index as bank_index
from consentry.match.banks import service as banks
from consentry.match.banks.records import BankRecord, RecordError, records_from_item
from consentry.match.banks.submission import FORMAT, VERSION
from consentry.store import audit
from consentry.store import cases as case_store
from consentry.store.cases import CaseInfo, NoteInfo
from consentry.store.db import Database
from consentry.store.tables.banks import Bank, BankEntry
from consentry.store.tables.core import utcnow

CASE_BANK = "helpline-cases"
SHARE_BANK = "helpline-shared"
MAX_ITEMS = 1_000  # media in one submission (each 2-3 hashes; a video's vPDQ list is long)
VICTIM = "victim"  # the audit actor of what a victim does with their PIN


class CaseInputError(ValueError):
    """The submission is not one we can take: 422, with the item and field named."""


@dataclass(frozen=True)
class CaseBanks:
    """Which banks cases use (operators may rename them: ServiceSettings, ``case --bank``)."""

    intake: str = CASE_BANK
    shared: str = SHARE_BANK


def parse_submission(data: Any) -> tuple[list[BankRecord], int]:
    """The records of a submission document (``consentry.match.banks.submission``'s format)
    and how many media items it holds. File names, if the victim kept them, are dropped: a
    case keeps hashes only."""
    if not isinstance(data, dict):
        raise CaseInputError("the body must be a JSON object: the submission file")
    if data.get("format") != FORMAT:
        raise CaseInputError(f"not a submission file (\"format\": {FORMAT!r} expected); make one "
                             "with `consentry hash FILES -o submission.json` or the hash page")
    if data.get("version") != VERSION:
        raise CaseInputError(f"submission version {data.get('version')!r} is not supported "
                             f"(this helpline reads version {VERSION})")
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise CaseInputError("the submission holds no hashed items")
    if len(items) > MAX_ITEMS:
        raise CaseInputError(f"at most {MAX_ITEMS} items in one submission (this one has {len(items)})")
    records: list[BankRecord] = []
    seen: set[tuple[str, str]] = set()
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise CaseInputError(f"item {n}: must be a JSON object")
        try:
            found = records_from_item({k: v for k, v in item.items() if k != "name"})
        except RecordError as exc:
            raise CaseInputError(f"item {n}, field {exc.field}: {exc}") from None
        for record in found:
            key = (record.signal, record.value_key)
            if key not in seen:  # the same picture twice in one submission: one entry
                seen.add(key)
                record.attributes.pop("name", None)
                records.append(record)
    return records, len(items)


def _bank(session: Session, name: str, *, shared: bool) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        what = ("victims' hashes shared with partners by consent (not matched here: the case bank "
                "matches them)" if shared else "victims' hashes from helpline cases")
        bank = banks.create_bank(session, name, "ncii", "consentry", description=what)
        if shared:
            bank.enabled = False
    elif bank.kind == "allow":
        raise ConfigError(f"bank {name!r} is an allow bank; cases need an NCII bank")
    return bank


def _insert(session: Session, bank: Bank, records: list[BankRecord], number: int, actor: str) -> int:
    """The case's own entries. Not ``banks.add_records``: that skips a hash the bank holds
    already, and two victims (or two cases) may send the same picture; each case keeps its own
    entries so that withdrawing one never stops another's."""
    now = utcnow()
    rows = [{"bank_id": bank.id, "signal": r.signal, "value_key": r.value_key, "value": r.value,
             "quality": r.quality, "case_id": case_store.tag(number), "external_id": None, "note": None,
             "attributes": dict(r.attributes), "source": "case", "added_at": now, "added_by": actor}
            for r in records]
    if rows:
        session.execute(insert(BankEntry.__table__), rows)
    audit.record(session, actor, "bank.add", bank.name, source="case", added=len(rows), duplicates=0,
                 case_id=case_store.tag(number))
    return len(rows)


def open_case(db: Database, data: Any, where: CaseBanks) -> tuple[CaseInfo, str]:
    """Open a case from a submission: (the case, its PIN). The PIN is not kept; show it once."""
    records, n_items = parse_submission(data)
    pin = case_store.new_pin()
    with db.session() as session:
        bank = _bank(session, where.intake, shared=False)
        _bank(session, where.shared, shared=True)  # there from the start: partners can be granted it
        row = case_store.create(session, pin, n_items)
        added = _insert(session, bank, records, row.number, f"case:{row.number}")
        audit.record(session, VICTIM, "case.open", f"case:{row.number}", items=n_items, hashes=added,
                     bank=bank.name)
        found = case_store.info(session, row, bank.id)
    bank_index.sync(db)  # matchable from the next upload on
    return found, pin


def check_pin(db: Database, number: int, pin: str, *, max_failures: int, lock_s: float
              ) -> case_store.PinCheck:
    with db.session() as session:  # committed whatever the outcome: failures are counted
        return case_store.check_pin(session, number, pin, max_failures=max_failures, lock_s=lock_s)


def status(db: Database, number: int, where: CaseBanks) -> CaseInfo:
    with db.session() as session:
        row = case_store.get(session, number)
        return case_store.info(session, row, case_store.bank_id(session, where.intake))


def withdraw(db: Database, number: int, where: CaseBanks, *, actor: str, reason: str) -> CaseInfo:
    """Withdraw the case: its entries in the case bank and the share bank stop at once."""
    with db.session() as session:
        row = case_store.get(session, number, for_update=True)
        if row.status != "withdrawn":
            n = _withdraw_entries(session, where.intake, number, actor, reason)
            n += _withdraw_entries(session, where.shared, number, actor, reason)
            case_store.mark_withdrawn(session, row, actor)
            audit.record(session, actor, "case.withdraw", f"case:{number}", reason=reason, entries=n)
        found = case_store.info(session, row, case_store.bank_id(session, where.intake))
    bank_index.sync(db)
    return found


def _withdraw_entries(session: Session, bank_name: str, number: int, actor: str, reason: str) -> int:
    bank = session.scalar(select(Bank).where(Bank.name == bank_name))
    if bank is None:
        return 0
    return len(banks.withdraw(session, bank, actor, reason, case_id=case_store.tag(number)))


def add_note(db: Database, number: int, author: str, text: str) -> None:
    with db.session() as session:
        case_store.add_note(session, case_store.get(session, number), author, text)


def record_consent(db: Database, number: int, where: CaseBanks, *, actor: str, given: bool,
                   how: str) -> CaseInfo:
    """Record the victim's consent to share (or its withdrawal: shared copies are withdrawn)."""
    with db.session() as session:
        row = case_store.get(session, number, for_update=True)
        if given and row.status != "active":
            raise ConfigError(f"case {number} is withdrawn: nothing can be shared")
        case_store.set_consent(session, row, actor, given, how)
        if not given:
            _withdraw_entries(session, where.shared, number, actor, "the victim withdrew consent to share")
            row.shared_at = None
        found = case_store.info(session, row, case_store.bank_id(session, where.intake))
    bank_index.sync(db)
    return found


def share(db: Database, number: int, where: CaseBanks, *, actor: str) -> int:
    """Copy the case's active hashes into the share bank (those not there yet): how many."""
    with db.session() as session:
        row = case_store.get(session, number, for_update=True)
        if row.status != "active":
            raise ConfigError(f"case {number} is withdrawn: nothing can be shared")
        if not row.consent_share:
            raise ConfigError(f"case {number}: record the victim's consent to share first")
        intake = _bank(session, where.intake, shared=False)
        target = _bank(session, where.shared, shared=True)
        of_case = BankEntry.case_id == case_store.tag(number)
        there = set(session.execute(select(BankEntry.signal, BankEntry.value_key).where(
            BankEntry.bank_id == target.id, of_case, BankEntry.withdrawn_at.is_(None))).all())
        entries = session.scalars(select(BankEntry).where(BankEntry.bank_id == intake.id, of_case,
                                                          BankEntry.withdrawn_at.is_(None))
                                  .order_by(BankEntry.id)).all()
        records = [banks.to_record(e) for e in entries if (e.signal, e.value_key) not in there]
        added = _insert(session, target, records, number, actor) if records else 0
        row.shared_at = row.shared_at or utcnow()
        audit.record(session, actor, "case.share", f"case:{number}", bank=target.name, entries=added)
    bank_index.sync(db)
    return added


def listing(db: Database, where: CaseBanks, *, status: str | None = None, limit: int = 500
            ) -> list[CaseInfo]:
    with db.session() as session:
        return case_store.listing(session, where.intake, status=status, limit=limit)


def show(db: Database, number: int, where: CaseBanks) -> tuple[CaseInfo, list[NoteInfo]]:
    with db.session() as session:
        row = case_store.get(session, number)
        return (case_store.info(session, row, case_store.bank_id(session, where.intake)),
                case_store.notes(session, row))
