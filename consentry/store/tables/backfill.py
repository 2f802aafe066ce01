"""Backfill tables: a run's manifest (every file it will analyse) and each entry's state, so a
run that is killed goes on where it stopped and stores each result exactly once.

An entry's result is an ordinary row of ``items`` (under the run's scan), written in the same
transaction that flips the entry to ``done`` or ``error``: either both happened or neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from consentry.store.tables.core import Base, utcnow

# Entry states. ``running``: handed to the analysis by the run's current owner; an entry
# still ``running`` when its owner died goes back to ``pending`` on resume.
PENDING, RUNNING, DONE, ERROR = "pending", "running", "done", "error"
STATES = (DONE, PENDING, RUNNING, ERROR)


class BackfillRun(Base):
    __tablename__ = "backfill_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # sha256 of the sources and settings: running the same command again finds this run
    key: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sources: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # what a resume needs to run the same analysis: signals, their options, limits, policy
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id", ondelete="SET NULL"))
    # False until every source is listed: a run killed while listing lists again
    manifest_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # host:pid of the process working on the run, and when it last stored a batch
    owner: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BackfillEntry(Base):
    __tablename__ = "backfill_items"
    __table_args__ = (UniqueConstraint("run_id", "seq"),
                      Index("ix_backfill_items_run_state", "run_id", "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("backfill_runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # order in the manifest
    path: Mapped[str] = mapped_column(Text)  # valid Unicode (consentry.names.path_text)
    path_raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # exact bytes, when not UTF-8
    external_id: Mapped[str | None] = mapped_column(String(400))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
