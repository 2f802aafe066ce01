"""Tables of the likeness registry (migrations 0003_likeness, 0005_consent_method)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consentry.store.tables.core import Base, utcnow


class Person(Base):
    """Someone who asked to be protected. Only a name (or label) the operator chooses."""

    __tablename__ = "likeness_persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="ConsentRecord.id")
    embeddings: Mapped[list[FaceEmbedding]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="FaceEmbedding.id")


class ConsentRecord(Base):
    """Who attested the person's consent, how, when, and when it must be reviewed."""

    __tablename__ = "likeness_consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("likeness_persons.id", ondelete="CASCADE"), index=True)
    # How the consent was verified (consentry.match.likeness.consent.METHODS), and the
    # operator's note on it; the operator who attested it is ``recorded_by`` (an OS account).
    method: Mapped[str] = mapped_column(String(32), server_default="unrecorded")
    attestation: Mapped[str] = mapped_column(Text)
    document_name: Mapped[str | None] = mapped_column(String(500))
    document_sha256: Mapped[str | None] = mapped_column(String(64))  # the document stays with the operator
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(200))
    review_date: Mapped[date] = mapped_column(Date)  # the consent expires on this day

    person: Mapped[Person] = relationship(back_populates="consents")


class FaceEmbedding(Base):
    """One face descriptor of an enrolled person (the photo itself is not kept)."""

    __tablename__ = "likeness_embeddings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("likeness_persons.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(64))  # descriptor name, so a new model can re-enrol
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian
    photo_sha256: Mapped[str] = mapped_column(String(64))
    face_size: Mapped[float] = mapped_column(Float)
    sharpness: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    person: Mapped[Person] = relationship(back_populates="embeddings")
