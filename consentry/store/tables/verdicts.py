"""The verdict table: one row per decided item, so review queues and audits can query it
without parsing every item's JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from consentry.store.tables.core import Base, utcnow
from consentry.types import ItemReport


class Verdict(Base):
    __tablename__ = "verdicts"
    __table_args__ = (Index("ix_verdicts_action_priority", "action", "priority"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), unique=True)
    action: Mapped[str] = mapped_column(String(16))  # block | review | label | allow
    priority: Mapped[str | None] = mapped_column(String(16))  # high | normal | low (review only)
    labels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    missing_signals: Mapped[list[Any]] = mapped_column(JSON, default=list)
    policy: Mapped[str] = mapped_column(Text)  # name@sha256-prefix of the exact policy file
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def record_verdicts(session: Session, reports: Sequence[ItemReport]) -> None:
    """Store the verdicts the policy put on ``reports`` (items without one are skipped)."""
    rows = [row for report in reports if (row := _verdict_row(report)) is not None]
    if rows:
        session.execute(insert(Verdict), rows)


def _verdict_row(report: ItemReport) -> dict[str, Any] | None:
    verdict = report.verdict
    if verdict is None or report.item_id is None:
        return None
    return {"item_id": report.item_id, "action": verdict.action, "priority": verdict.priority,
            "labels": list(verdict.labels), "reasons": [r.as_json() for r in verdict.reasons],
            "missing_signals": list(verdict.missing_signals), "policy": verdict.policy}
