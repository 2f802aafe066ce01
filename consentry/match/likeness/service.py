"""Enrol, list, show and remove persons of the likeness registry, with an audit record for
every change. Photos are read, checked and turned into descriptors; they are not stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from consentry.errors import ConfigError
from consentry.match.likeness.index import MODEL_NAME, to_bytes
from consentry.settings import Limits
from consentry.store import audit
from consentry.store.tables.core import utcnow
from consentry.store.tables.likeness import ConsentRecord, FaceEmbedding, Person

DEFAULT_REVIEW_DAYS = 365


class EnrolmentRefused(ConfigError):
    """A photo cannot be used (no face, several faces, unreadable, face too poor)."""


@dataclass
class EnrolmentFace:
    photo: Path
    sha256: str
    vector: np.ndarray
    size: float
    sharpness: float



def read_photo_face(path: Path, limits: Limits | None = None) -> EnrolmentFace:
    """The one face of an enrolment photo, or a refusal that names the photo and why."""
    from consentry.errors import MediaError
    from consentry.media import image as image_media
    from consentry.media.sniff import sniff
    from consentry.signals.faces.embed import embed_chips
    from consentry.signals.faces.finder import FaceFinder
    from consentry.types import MediaKind

    limits = limits or Limits()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EnrolmentRefused(f"{path}: cannot read the photo ({exc.strerror or exc})") from exc
    sniffed = sniff(data[:64])
    if sniffed is None or sniffed.kind is not MediaKind.IMAGE:
        raise EnrolmentRefused(f"{path}: not an image (enrol from photos: JPEG, PNG, WebP, HEIC...)")
    try:
        rgb = image_media.decode_rgb(image_media.open_image(data, sniffed.format, limits), fast_jpeg=False)
    except MediaError as exc:
        raise EnrolmentRefused(f"{path}: {exc}") from exc
    faces = FaceFinder().find(rgb)
    if not faces:
        raise EnrolmentRefused(f"{path}: no face found; use a clear photo of the person's face")
    if len(faces) > 1:
        raise EnrolmentRefused(
            f"{path}: {len(faces)} faces found; use a photo that shows only the person enrolled")
    face = faces[0]
    if not face.matchable or face.chip is None:
        raise EnrolmentRefused(
            f"{path}: the face is too small, blurred or turned away to match reliably "
            f"(width {face.size:.0f} px, sharpness {face.sharpness:.0f}, yaw {face.pose.get('yaw')})")
    vector = embed_chips([face.chip])[0]
    return EnrolmentFace(path, hashlib.sha256(data).hexdigest(), vector, face.size, face.sharpness)


def enrol(session: Session, *, name: str, attestation: str, photos: list[Path], actor: str,
          consent_file: Path | None = None, review_date: date | None = None) -> Person:
    """Check every photo first; store nothing unless all are usable."""
    if not name.strip():
        raise ConfigError("--name must not be empty")
    if not attestation.strip():
        raise ConfigError("--consent must say who attested the consent and how")
    if not photos:
        raise ConfigError("give at least one photo (--photos)")
    doc_name = doc_sha = None
    if consent_file is not None:
        try:
            doc_sha = hashlib.sha256(consent_file.read_bytes()).hexdigest()
        except OSError as exc:
            raise ConfigError(
                f"{consent_file}: cannot read the consent file ({exc.strerror or exc})") from exc
        doc_name = consent_file.name
    faces = [read_photo_face(p) for p in photos]
    review = review_date or (utcnow().date() + timedelta(days=DEFAULT_REVIEW_DAYS))
    person = Person(name=name.strip(), created_by=actor)
    person.consents.append(ConsentRecord(
        attestation=attestation.strip(), document_name=doc_name, document_sha256=doc_sha,
        recorded_by=actor, review_date=review))
    for face in faces:
        person.embeddings.append(FaceEmbedding(
            model=MODEL_NAME, vector=to_bytes(face.vector), photo_sha256=face.sha256,
            face_size=face.size, sharpness=face.sharpness))
    session.add(person)
    session.flush()
    audit.record(session, actor, "likeness.enrol", f"person:{person.id}", name=person.name,
          photos=len(faces), consent=attestation.strip(), review_date=review.isoformat(),
          consent_document_sha256=doc_sha)
    return person


def list_persons(session: Session) -> list[Person]:
    return list(session.scalars(select(Person).order_by(Person.id)))


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise ConfigError(f"no enrolled person with id {person_id}")
    return person


def remove(session: Session, person_id: int, *, actor: str, reason: str | None = None) -> int:
    """Delete the person, their consent records and every descriptor; returns how many
    descriptors were deleted."""
    person = get_person(session, person_id)
    deleted = session.execute(
        delete(FaceEmbedding).where(FaceEmbedding.person_id == person_id)).rowcount or 0
    session.execute(delete(ConsentRecord).where(ConsentRecord.person_id == person_id))
    session.expunge(person)
    session.execute(delete(Person).where(Person.id == person_id))
    audit.record(session, actor, "likeness.remove", f"person:{person_id}", embeddings_deleted=deleted,
          reason=reason)
    return deleted


def embedding_count(session: Session, person_id: int | None = None) -> int:
    query = select(func.count(FaceEmbedding.id))
    if person_id is not None:
        query = query.where(FaceEmbedding.person_id == person_id)
    return int(session.scalar(query) or 0)


def person_json(person: Person, *, detail: bool = False) -> dict[str, Any]:
    consent = person.consents[-1] if person.consents else None
    today = utcnow().date()
    out: dict[str, Any] = {
        "person": person.id,
        "name": person.name,
        "enrolled_at": person.created_at,
        "enrolled_by": person.created_by,
        "faces": len(person.embeddings),
        "review_date": consent.review_date.isoformat() if consent else None,
        "review_due": bool(consent and consent.review_date <= today),
    }
    if detail:
        out["consents"] = [
            {"attestation": c.attestation, "document": c.document_name,
             "document_sha256": c.document_sha256, "recorded_at": c.recorded_at,
             "recorded_by": c.recorded_by, "review_date": c.review_date.isoformat()}
            for c in person.consents
        ]
        out["photos_sha256"] = [e.photo_sha256 for e in person.embeddings]
    return out
