"""Tables of the hash banks: banks, their entries, withdrawals, and the matches recorded.

An entry is one signal of one piece of media (a PDQ hash, a vPDQ hash list, an MD5 or a
SHA-256). Entries are never deleted by a withdrawal: the row keeps who withdrew it, when and
why, and it stops matching at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentry.store.tables.core import Base, utcnow


class Bank(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # ncii, deepfake, other, allow
    description: Mapped[str | None] = mapped_column(Text)
    threshold: Mapped[int] = mapped_column(Integer, default=31)  # PDQ Hamming distance
    quality_min: Mapped[int] = mapped_column(Integer, default=50)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled_ratio: Mapped[float] = mapped_column(Float, default=1.0)  # gradual roll-out
    dihedral: Mapped[bool] = mapped_column(Boolean, default=False)  # match rotations/flips
    video_query_pct: Mapped[float] = mapped_column(Float, default=80.0)
    video_target_pct: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    entries: Mapped[list[BankEntry]] = relationship(back_populates="bank", cascade="all, delete-orphan",
                                                    passive_deletes=True)


class BankEntry(Base):
    __tablename__ = "bank_entries"
    __table_args__ = (Index("ix_bank_entries_signal_key", "signal", "value_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    signal: Mapped[str] = mapped_column(String(16))  # pdq, vpdq, md5, sha256
    # The hash (hex) for pdq/md5/sha256; for vpdq the SHA-256 of the canonical value.
    value_key: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)  # canonical signal string (see formats.py)
    quality: Mapped[int | None] = mapped_column(Integer)
    case_id: Mapped[str | None] = mapped_column(String(200), index=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(32))  # file, scan, import, submission, hashes
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    added_by: Mapped[str] = mapped_column(String(200))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    bank: Mapped[Bank] = relationship(back_populates="entries")


class Withdrawal(Base):
    """Who withdrew what from a bank, when and why (append-only)."""

    __tablename__ = "bank_withdrawals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("bank_entries.id", ondelete="CASCADE"),
                                                 index=True)
    hash: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BankMatch(Base):
    """One item matching one bank entry."""

    __tablename__ = "bank_matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("bank_entries.id", ondelete="CASCADE"), index=True)
    signal: Mapped[str] = mapped_column(String(16))
    hash: Mapped[str] = mapped_column(String(64))  # the item's hash that matched
    distance: Mapped[int] = mapped_column(Integer)
    transform: Mapped[str | None] = mapped_column(String(16))  # dihedral transform of the item
    enforced: Mapped[bool] = mapped_column(Boolean, default=True)  # False: outside the roll-out ratio
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
