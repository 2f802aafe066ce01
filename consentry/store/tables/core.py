"""ORM tables of the core: scans, their items (each with its full JSON result), and the audit log.

Other stages (banks, likeness registry, verdicts) add their own tables in their own
modules and migrations; they all share ``Base``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class Scan(Base):
    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    consentry_version: Mapped[str] = mapped_column(String(32))
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    n_errors: Mapped[int] = mapped_column(Integer, default=0)
    n_flagged: Mapped[int] = mapped_column(Integer, default=0)

    items: Mapped[list[Item]] = relationship(back_populates="scan", cascade="all, delete-orphan")


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (Index("ix_items_md5", "md5"), Index("ix_items_sha256", "sha256"),
                      Index("ix_items_sha256_versions", "sha256", "signal_versions"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    md5: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str | None] = mapped_column(String(64))
    media: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The item's full JSON object (the documented schema), so every signal's output is kept
    # without a column per signal.
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # "name=version,..." of the signals that produced ``result`` without error (--skip-known)
    signal_versions: Mapped[str | None] = mapped_column(String(400))
    flagged: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    scan: Mapped[Scan] = relationship(back_populates="items")


class AuditEntry(Base):
    """Who did what to which record, and when. Append-only and hash-chained."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The chain (consentry.store.audit): a digest of subject + details, and a hash covering
    # the previous row's hash, so an edited, deleted or inserted row shows (audit verify).
    content_digest: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))
