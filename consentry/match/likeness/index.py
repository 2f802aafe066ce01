"""The in-memory index of enrolled descriptors, rebuilt from the database for every scan.

There is no second copy on disk: removing a person's rows removes them from every future
index. Only persons whose current consent (their newest consent record) has not reached its
review date are matched. Brute force in numpy: a registry of 10,000 descriptors is 5 MB and one query of a
track's faces costs well under a millisecond per thousand descriptors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentry.signals.faces.embed import DIM
from consentry.store.tables.core import utcnow
from consentry.store.tables.likeness import ConsentRecord, FaceEmbedding, Person

MODEL_NAME = "dlib_resnet_v1"


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").reshape(DIM).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


@dataclass
class LikenessIndex:
    vectors: np.ndarray  # M x 128
    person_ids: np.ndarray  # M
    names: dict[int, str]
    expired: set[int] = field(default_factory=set)  # enrolled, consent expired: not matched

    @classmethod
    def from_session(cls, session: Session, *, current_only: bool = True,
                     today: date | None = None) -> LikenessIndex:
        """The descriptors of every person whose consent is current (of every enrolled
        person with ``current_only=False``: enrolment's duplicate check)."""
        today = today or utcnow().date()
        newest: dict[int, date] = {}
        for pid, review in session.execute(select(ConsentRecord.person_id, ConsentRecord.review_date)
                                           .order_by(ConsentRecord.id)):
            newest[pid] = review
        names = {pid: name for pid, name in session.execute(select(Person.id, Person.name))}
        expired = {pid for pid in names if newest.get(pid) is None or newest[pid] <= today}
        rows = [r for r in session.execute(
            select(FaceEmbedding.person_id, FaceEmbedding.vector)
            .where(FaceEmbedding.model == MODEL_NAME).order_by(FaceEmbedding.id)
        ) if not (current_only and r.person_id in expired)]
        if current_only:
            names = {pid: name for pid, name in names.items() if pid not in expired}
        if not rows:
            return cls(np.zeros((0, DIM), np.float32), np.zeros(0, np.int64), names, expired)
        return cls(np.stack([from_bytes(r.vector) for r in rows]),
                   np.array([r.person_id for r in rows], dtype=np.int64), names, expired)

    def __len__(self) -> int:
        return len(self.person_ids)

    def persons(self) -> set[int]:
        return {int(p) for p in self.person_ids}

    def remove(self, person_id: int) -> None:
        keep = self.person_ids != person_id
        self.vectors, self.person_ids = self.vectors[keep], self.person_ids[keep]
        self.names.pop(person_id, None)

    def track_distances(self, queries: np.ndarray) -> dict[int, float]:
        """For each enrolled person, the median over the query faces (one track) of the
        distance to that person's nearest enrolled descriptor."""
        if len(self) == 0 or len(queries) == 0:
            return {}
        diff = queries[:, None, :] - self.vectors[None, :, :]
        dist = np.sqrt(np.einsum("qmd,qmd->qm", diff, diff))
        out: dict[int, float] = {}
        for person in np.unique(self.person_ids):
            nearest = dist[:, self.person_ids == person].min(axis=1)
            out[int(person)] = float(np.median(nearest))
        return out
