"""128-D face descriptors (dlib's ResNet, about 75 ms per face on one core).

Computed only for the few best faces of each track, and only when someone is enrolled in the
likeness registry: scanning never builds biometric templates of people nobody asked to protect.
"""

from __future__ import annotations

import numpy as np

from consentry.signals.faces import dlib_files

DIM = 128


def embed_chips(chips: list[np.ndarray]) -> np.ndarray:
    """Descriptors of aligned 150x150 crops, as an N x 128 float32 array."""
    if not chips:
        return np.zeros((0, DIM), dtype=np.float32)
    model = dlib_files.descriptor_model()
    vectors = model.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
    return np.array([np.asarray(v, dtype=np.float32) for v in vectors], dtype=np.float32)


def embed_tracks(payload: object) -> int:
    """Descriptors for every kept face of every track of a ``FacesPayload`` that lacks one, in
    one batched call (the tracker keeps crops only of each track's few best matchable faces);
    each face's ``embedding`` is set. Returns how many were computed."""
    from consentry.signals.face_types import FacesPayload

    if not isinstance(payload, FacesPayload):
        return 0
    todo = [d for track in payload.tracks for d in track.detections
            if d.matchable and d.chip is not None and d.embedding is None]
    vectors = embed_chips([d.chip for d in todo])  # type: ignore[misc]
    for det, vector in zip(todo, vectors, strict=True):
        det.embedding = vector
    return len(todo)
