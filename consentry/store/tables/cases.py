"""Tables of victim cases (migration 0011_cases): a case a victim opened by sending a
submission file (hashes only), and the contact notes case workers keep on it.

A case holds no media and no name: its hashes live in the helpline's case bank, each entry
tagged with the case (``BankEntry.case_id``), so a withdrawal stops exactly those entries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consentry.store.tables.core import Base, utcnow


class VictimCase(Base):
    __tablename__ = "victim_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What the victim is told: random, so numbers say nothing about other cases.
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    status: Mapped[str] = mapped_column(String(16))  # active | withdrawn
    pin_hash: Mapped[str] = mapped_column(String(200))  # argon2, as API keys
    items: Mapped[int] = mapped_column(Integer, default=0)  # media hashed into the submission
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))
    # The victim's consent to share the hashes with partners, as a case worker recorded it.
    consent_share: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consent_by: Mapped[str | None] = mapped_column(String(200))
    consent_how: Mapped[str | None] = mapped_column(Text)
    shared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Wrong PINs in a row (reset by a right one) and the lock they led to.
    pin_failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaseNote(Base):
    """A case worker's contact note (append-only)."""

    __tablename__ = "victim_case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("victim_cases.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
