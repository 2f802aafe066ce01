"""Enrol, renew, list, show and remove persons of the likeness registry, with an audit record
for every change. The front finds the faces of each photo with the scan's own analysis (the
``faces`` signal) and hands them here; photos are not stored, only one descriptor each.

Everything returned is a plain dataclass: no database object leaves this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from consentry.errors import ConfigError
from consentry.match.likeness.consent import (
    CheckedConsent,
    ConsentRequest,
    check_consent,
    check_name,
)
from consentry.match.likeness.index import MODEL_NAME, LikenessIndex, to_bytes
from consentry.match.likeness.matcher import configured_threshold
from consentry.signals.face_types import FaceDetection
from consentry.store import audit
from consentry.store.db import Database
from consentry.store.erasure import forget_person, new_pseudonym, subject_of
from consentry.store.tables.core import utcnow
from consentry.store.tables.likeness import ConsentRecord, FaceEmbedding, Person


class EnrolmentRefused(ConfigError):
    """A photo cannot be used (no face, several faces, unreadable, face too poor)."""


class DuplicateFace(EnrolmentRefused):
    """A photo's face matches someone already enrolled (enrol again with ``force``)."""


@dataclass(frozen=True)
class EnrolmentPhoto:
    """What the scan's faces analysis found in one photo offered for enrolment."""

    path: Path
    sha256: str | None
    faces: tuple[FaceDetection, ...]
    problem: str | None = None  # why the photo could not be analysed (unreadable, not an image)


@dataclass(frozen=True)
class ConsentInfo:
    method: str
    note: str
    document_name: str | None
    document_sha256: str | None
    recorded_at: datetime
    recorded_by: str  # the operator account that attested it
    review_date: date  # the consent expires on this day


@dataclass(frozen=True)
class PersonRecord:
    person_id: int
    name: str
    enrolled_at: datetime
    enrolled_by: str
    faces: int
    photos_sha256: tuple[str, ...]
    consents: tuple[ConsentInfo, ...]

    @property
    def review_date(self) -> date | None:
        return self.consents[-1].review_date if self.consents else None

    def expired(self, today: date) -> bool:
        """True once the current consent's review date has come: no more matching."""
        return self.review_date is None or self.review_date <= today

    def as_json(self, *, detail: bool = False) -> dict[str, Any]:
        today = utcnow().date()
        out: dict[str, Any] = {
            "person": self.person_id,
            "name": self.name,
            "enrolled_at": self.enrolled_at,
            "enrolled_by": self.enrolled_by,
            "faces": self.faces,
            "review_date": self.review_date.isoformat() if self.review_date else None,
            "review_due": self.expired(today),
            "matching": not self.expired(today),
        }
        if detail:
            out["consents"] = [
                {"method": c.method, "note": c.note, "document": c.document_name,
                 "document_sha256": c.document_sha256, "recorded_at": c.recorded_at,
                 "attested_by": c.recorded_by, "review_date": c.review_date.isoformat()}
                for c in self.consents
            ]
            out["photos_sha256"] = list(self.photos_sha256)
        return out


@dataclass(frozen=True)
class Enrolment:
    person: PersonRecord
    duplicates_forced: int  # photos whose face matched someone already enrolled


@dataclass(frozen=True)
class Removal:
    embeddings_deleted: int
    items_rewritten: int  # stored results that named the person, now pseudonymous


def one_face(photo: EnrolmentPhoto) -> FaceDetection:
    """The one usable face of an enrolment photo, or a refusal that names the photo and why."""
    if photo.problem is not None:
        raise EnrolmentRefused(f"{photo.path}: {photo.problem}")
    if not photo.faces:
        raise EnrolmentRefused(f"{photo.path}: no face found; use a clear photo of the person's face")
    if len(photo.faces) > 1:
        raise EnrolmentRefused(f"{photo.path}: {len(photo.faces)} faces found; use a photo that "
                               "shows only the person enrolled")
    face = photo.faces[0]
    if not face.matchable or face.chip is None:
        raise EnrolmentRefused(
            f"{photo.path}: the face is too small, blurred or turned away to match reliably "
            f"(width {face.size:.0f} px, sharpness {face.sharpness:.0f}, yaw {face.pose.get('yaw')})")
    return face


def enrol(db: Database, *, name: str, consent: ConsentRequest, photos: Sequence[EnrolmentPhoto],
          actor: str, force: bool = False) -> Enrolment:
    """Check the consent record and every photo first; store nothing unless all pass. A face
    that matches a person already enrolled is refused unless ``force`` (audited either way);
    the refusal does not say whom it matched, so enrolment cannot be used to identify faces."""
    from consentry.signals.faces.embed import embed_chips

    clean_name = check_name(name)
    checked = check_consent(consent, utcnow().date())
    if not photos:
        raise ConfigError("give at least one photo (--photos)")
    faces = [one_face(p) for p in photos]
    vectors = embed_chips([f.chip for f in faces])  # type: ignore[misc]
    threshold = configured_threshold()
    with db.session() as session:
        index = LikenessIndex.from_session(session, current_only=False)
        duplicates = [(photo, person, dist) for photo, vector in zip(photos, vectors, strict=True)
                      for person, dist in index.track_distances(vector[None, :]).items()
                      if dist <= threshold]
        for photo, person, dist in duplicates:
            audit.record(session, actor, "likeness.enrol_duplicate", subject_of(person),
                         photo_sha256=photo.sha256, distance=round(dist, 3), threshold=threshold,
                         forced=force)
    if duplicates and not force:
        first = duplicates[0]
        raise DuplicateFace(
            f"{first[0].path}: the face matches a person already enrolled (distance "
            f"{first[2]:.3f}, threshold {threshold}); nothing stored. If this is meant (the same "
            "person again, or a look-alike who consented), enrol with --force (audited)")
    with db.session() as session:
        person = Person(name=clean_name, created_by=actor)
        person.consents.append(_consent_row(checked, actor))
        for photo, face, vector in zip(photos, faces, vectors, strict=True):
            person.embeddings.append(FaceEmbedding(
                model=MODEL_NAME, vector=to_bytes(vector), photo_sha256=photo.sha256 or "",
                face_size=face.size, sharpness=face.sharpness))
        session.add(person)
        session.flush()
        audit.record(session, actor, "likeness.enrol", subject_of(person.id), photos=len(faces),
                     method=checked.method, review_date=checked.review_date.isoformat(),
                     consent_document_sha256=checked.document_sha256,
                     duplicates_forced=len({d[0].path for d in duplicates}))
        record = _record(person)
    return Enrolment(record, len({d[0].path for d in duplicates}))


def renew(db: Database, person_id: int, consent: ConsentRequest, *, actor: str) -> PersonRecord:
    """Record a new consent (a new review date) for an enrolled person."""
    checked = check_consent(consent, utcnow().date())
    with db.session() as session:
        person = _person(session, person_id)
        person.consents.append(_consent_row(checked, actor))
        session.flush()
        audit.record(session, actor, "likeness.renew", subject_of(person_id), method=checked.method,
                     review_date=checked.review_date.isoformat(),
                     consent_document_sha256=checked.document_sha256)
        return _record(person)


def list_persons(db: Database) -> list[PersonRecord]:
    with db.session() as session:
        query = select(Person).order_by(Person.id).options(
            selectinload(Person.consents), selectinload(Person.embeddings))
        return [_record(p) for p in session.scalars(query)]


def get_person(db: Database, person_id: int) -> PersonRecord:
    with db.session() as session:
        return _record(_person(session, person_id))


def remove(db: Database, person_id: int, *, actor: str, reason: str | None = None) -> Removal:
    """Delete the person, their consent records and every descriptor, and forget them in
    every stored result and audit entry (a pseudonym stays; consentry.store.erasure)."""
    with db.session() as session:
        _person(session, person_id)
        deleted = session.execute(
            delete(FaceEmbedding).where(FaceEmbedding.person_id == person_id)).rowcount or 0
        session.execute(delete(ConsentRecord).where(ConsentRecord.person_id == person_id))
        session.expunge_all()
        session.execute(delete(Person).where(Person.id == person_id))
        pseudonym = new_pseudonym()
        rewritten = forget_person(session, person_id, pseudonym)
        audit.record(session, actor, "likeness.remove", subject_of(pseudonym),
                     embeddings_deleted=deleted, items_rewritten=rewritten, reason=reason)
    db.flush_deleted()
    return Removal(deleted, rewritten)


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise ConfigError(f"no enrolled person with id {person_id}")
    return person


def _consent_row(checked: CheckedConsent, actor: str) -> ConsentRecord:
    return ConsentRecord(method=checked.method, attestation=checked.note,
                         document_name=checked.document_name,
                         document_sha256=checked.document_sha256, recorded_by=actor,
                         review_date=checked.review_date)


def _record(person: Person) -> PersonRecord:
    return PersonRecord(
        person_id=person.id, name=person.name, enrolled_at=person.created_at,
        enrolled_by=person.created_by, faces=len(person.embeddings),
        photos_sha256=tuple(e.photo_sha256 for e in person.embeddings),
        consents=tuple(ConsentInfo(c.method, c.attestation, c.document_name, c.document_sha256,
                                   c.recorded_at, c.recorded_by, c.review_date)
                       for c in person.consents))
