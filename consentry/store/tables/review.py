"""Tables of human review (migration 0010_review): people's accounts and their sign-in
sessions, claims on queued items, each item's review case and every decision taken on it,
and the encrypted media kept for review while it is needed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consentry.store.tables.core import Base, utcnow


class Reviewer(Base):
    """A person who signs in to /ui (API keys are for machines). Only an argon2 hash of the
    password is kept."""

    __tablename__ = "reviewers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # reviewer | senior_reviewer | operator | admin
    password_hash: Mapped[str] = mapped_column(String(200))
    # The blur this person chose for themselves, in percent of the default (100 = default).
    blur_percent: Mapped[int] = mapped_column(Integer, default=100)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReviewSession(Base):
    """One sign-in. The cookie holds a random token; only its SHA-256 is kept here."""

    __tablename__ = "review_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Wellness: the items opened in this session, and how many had been opened at the last break.
    items_seen: Mapped[list[Any]] = mapped_column(JSON, default=list)
    seen_at_break: Mapped[int] = mapped_column(Integer, default=0)
    revealed: Mapped[list[Any]] = mapped_column(JSON, default=list)  # item ids revealed this session


class ReviewClaim(Base):
    """Someone is working on this item; others see it as taken until ``expires_at``."""

    __tablename__ = "review_claims"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewCase(Base):
    """Where an item stands in review (no row yet: open, as the policy left it)."""

    __tablename__ = "review_cases"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    # open | escalated | confirmed | rejected | appealed | reversed | upheld
    state: Mapped[str] = mapped_column(String(16))
    bank: Mapped[str | None] = mapped_column(String(100))  # where a confirm/allow put its hashes
    label: Mapped[str | None] = mapped_column(String(100))
    case_id: Mapped[str | None] = mapped_column(String(200))  # the bank entries' case id
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewDecision(Base):
    """Who decided what on which item, when and why (append-only)."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # confirm | reject | escalate | appeal | uphold | reverse
    decision: Mapped[str] = mapped_column(String(16))
    bank: Mapped[str | None] = mapped_column(String(100))
    label: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    entries: Mapped[int] = mapped_column(Integer, default=0)  # bank entries added or withdrawn
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RetainedMedia(Base):
    """An item's media kept for review, encrypted: the file holds AES-GCM ciphertext under a
    key of its own, and that key is stored here wrapped by the service's key. Purging
    deletes the file and this key, so no copy of the file left anywhere can be read."""

    __tablename__ = "retained_media"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    kind: Mapped[str | None] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delete_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
