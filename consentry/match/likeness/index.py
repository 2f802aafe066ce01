"""The in-memory index of enrolled descriptors, rebuilt from the database for every scan.

There is no second copy on disk: removing a person's rows removes them from every future
index. Brute force in numpy: a registry of 10,000 descriptors is 5 MB and one query of a
track's faces costs well under a millisecond per thousand descriptors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentry.signals.faces.embed import DIM
from consentry.store.tables.likeness import FaceEmbedding, Person

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

    @classmethod
    def from_session(cls, session: Session) -> LikenessIndex:
        rows = session.execute(
            select(FaceEmbedding.person_id, FaceEmbedding.vector)
            .where(FaceEmbedding.model == MODEL_NAME).order_by(FaceEmbedding.id)
        ).all()
        names = {pid: name for pid, name in session.execute(select(Person.id, Person.name))}
        if not rows:
            return cls(np.zeros((0, DIM), np.float32), np.zeros(0, np.int64), names)
        return cls(np.stack([from_bytes(r.vector) for r in rows]),
                   np.array([r.person_id for r in rows], dtype=np.int64), names)

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
