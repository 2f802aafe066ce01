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
