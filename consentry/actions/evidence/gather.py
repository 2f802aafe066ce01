"""What the store holds about one item, read once for its evidence report: the stored result
(hashes, sizes, signals and their versions, matches, verdict), the scan or upload it came
from, its review decisions, the audit rows that concern it and the head of the audit chain.

Rows that "concern" the item: those whose subject is ``item:N`` (decisions, reveals, views,
earlier reports), and the bank changes a review decision made for it (``bank.add`` /
``bank.withdraw`` with the decision's case id ``review-item-N``). Likeness-registry rows name
enrolled people: they are counted, never listed (a report leaves the service)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consentry import __version__
from consentry.errors import ConfigError
from consentry.store import audit
from consentry.store import review as review_store
from consentry.store.db import Database
from consentry.store.tables.core import AuditEntry, Item, Scan
from consentry.store.tables.review import ReviewCase
from consentry.store.tables.service import Job
from consentry.store.tables.verdicts import Verdict

# The bank entries a review decision adds carry this case id (consentry.service.ui.decisions).
CASE_PREFIX = "review-item-"
# Rows about the item whose details name enrolled people: listed with their hashes, details withheld.
WITHHELD_ACTIONS = ("review.likeness_view",)
EVIDENCE_ACTION = "evidence.report"


@dataclass(frozen=True)
class ChainRow:
    """One audit row as the report shows it: everything its chain hashes cover."""

    entry_id: int
    at: str  # the exact text the row hash covers (consentry.store.audit._time_text)
    actor: str
    action: str
    subject: str
    details: dict[str, Any] | None  # None: withheld (names enrolled people)
    content_digest: str | None
    prev_hash: str | None
    row_hash: str | None


@dataclass(frozen=True)
class ChainHead:
    entry_id: int
    row_hash: str | None
    rows: int


@dataclass
class ItemEvidence:
    item_id: int
    result: dict[str, Any]
    stored_at: datetime | None
    scan_id: int | None
    scan_started: datetime | None
    scan_finished: datetime | None
    source: str  # "scan" or "api upload"
    external_id: str | None
    uploaded_at: datetime | None
    verdict_at: datetime | None
    policy: str | None
    review_state: str | None
    decisions: list[dict[str, Any]]
    audit_rows: list[ChainRow]
    head: ChainHead
    chain_ok: bool
    chain_problem: str | None
    likeness_rows: int
    generated_at: datetime
    generated_by: str
    thumbnail_jpeg: bytes | None = None
    version: str = __version__
    notes: list[str] = field(default_factory=list)


def _chain_row(entry: AuditEntry) -> ChainRow:
    withheld = entry.action in WITHHELD_ACTIONS
    return ChainRow(entry.id, audit.time_text(entry.at), entry.actor, entry.action, entry.subject,
                    None if withheld else dict(entry.details or {}), entry.content_digest,
                    entry.prev_hash, entry.row_hash)


def concerning(session: Session, item_id: int) -> list[AuditEntry]:
    """The audit rows about this item, oldest first."""
    subject = f"item:{item_id}"
    rows = list(session.scalars(select(AuditEntry).where(AuditEntry.subject == subject)))
    case = f"{CASE_PREFIX}{item_id}"
    bank_rows = session.scalars(select(AuditEntry).where(
        AuditEntry.action.in_(("bank.add", "bank.withdraw"))))
    rows += [r for r in bank_rows if (r.details or {}).get("case_id") == case]
    return sorted(rows, key=lambda r: r.id)


def _likeness_rows(session: Session, item_id: int) -> int:
    matches = session.scalars(select(AuditEntry.details).where(AuditEntry.action == "likeness.match"))
    return sum(1 for d in matches if (d or {}).get("item_id") == item_id)


def head(session: Session) -> ChainHead:
    last = session.execute(select(AuditEntry.id, AuditEntry.row_hash)
                           .order_by(AuditEntry.id.desc()).limit(1)).first()
    n = int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
    return ChainHead(last.id, last.row_hash, n) if last else ChainHead(0, None, 0)


def gather(db: Database, item_id: int, *, actor: str, thumbnail_jpeg: bytes | None = None) -> ItemEvidence:
    """Everything the report of ``item_id`` shows; ConfigError when there is no such item."""
    with db.session() as session:
        item = session.get(Item, item_id)
        if item is None:
            raise ConfigError(f"there is no item {item_id}")
        scan = session.get(Scan, item.scan_id)
        job = session.scalar(select(Job).where(Job.item_id == item_id))
        verdict = session.scalar(select(Verdict).where(Verdict.item_id == item_id))
        case = session.scalar(select(ReviewCase).where(ReviewCase.item_id == item_id))
        state = case.state if case is not None else review_store.state_of(session, item_id)
        checked = audit.verify(session)
        return ItemEvidence(
            item_id=item_id, result=dict(item.result or {}), stored_at=review_store.aware(item.created_at),
            scan_id=item.scan_id, scan_started=review_store.aware(scan.started_at) if scan else None,
            scan_finished=review_store.aware(scan.finished_at) if scan else None,
            source="api upload" if job is not None else "scan",
            external_id=job.external_id if job is not None else None,
            uploaded_at=review_store.aware(job.created_at) if job is not None else None,
            verdict_at=review_store.aware(verdict.decided_at) if verdict is not None else None,
            policy=verdict.policy if verdict is not None else None,
            review_state=state, decisions=review_store.decisions(session, item_id),
            audit_rows=[_chain_row(e) for e in concerning(session, item_id)],
            head=head(session), chain_ok=checked.ok,
            chain_problem=None if checked.ok else f"row {checked.bad_row}: {checked.problem}",
            likeness_rows=_likeness_rows(session, item_id),
            generated_at=datetime.now(UTC), generated_by=actor, thumbnail_jpeg=thumbnail_jpeg)

