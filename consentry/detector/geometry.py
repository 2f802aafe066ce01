"""Face geometry from dlib's 5-point landmarks: the canonical crop and a face-outline polygon.

The landmarks are the faces signal's (consentry.signals.faces: dlib's 5-point model, eye
corners and the base of the nose) and NOT dlib's 68-point model, whose training data is
licensed for non-commercial use only. Five points fix the eyes' positions, the in-plane angle
and the scale (inter-ocular distance, "iod"); the face outline used for the blending mask is
built from a face-shaped template in those units (see ``face_outline``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Canonical crop, in inter-ocular distances, measured on the DFDC 224 px crops we train on
# (median over 177 crops with detected landmarks: 2.47 iod wide, centre 0.48 iod below the
# eyes). Every face we
# score is cut the same way so that video frames look like the training crops.
CROP_SIDE_IOD = 2.5
CROP_CENTRE_DOWN_IOD = 0.48  # crop centre below the eyes' midpoint


@dataclass(frozen=True)
class FaceFrame:
    """The face's own axes: origin between the eyes, x towards the image-right eye, y down."""

    origin: np.ndarray
    ux: np.ndarray
    uy: np.ndarray
    iod: float

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, dtype=np.float64) * self.iod
        return self.origin + pts[:, :1] * self.ux + pts[:, 1:2] * self.uy


def face_frame(landmarks: np.ndarray) -> FaceFrame:
    lm = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eye_a, eye_b = lm[0:2].mean(0), lm[2:4].mean(0)
    left, right = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
    vec = right - left
    iod = float(np.hypot(*vec)) or 1.0
    ux = vec / iod
    uy = np.array([-ux[1], ux[0]])
    mid = (left + right) / 2
    if float(np.dot(lm[4] - mid, uy)) < 0:  # nose must be "below" the eyes
        uy = -uy
    return FaceFrame(mid, ux, uy, iod)


def crop_box(landmarks: np.ndarray, margin: float = 1.0) -> tuple[float, float, float, float]:
    """Axis-aligned square (x0, y0, x1, y1) around the face in the canonical framing."""
    fr = face_frame(landmarks)
    centre = fr.origin + fr.uy * CROP_CENTRE_DOWN_IOD * fr.iod
    half = CROP_SIDE_IOD * fr.iod * margin / 2
    return (centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half)


def face_outline(landmarks: np.ndarray, rng: np.random.Generator | None = None,
                 forehead: bool = True, n: int = 28) -> np.ndarray:
    """Polygon (n x 2, image pixels) around the face: an egg-shaped template in iod units.

    Eyes at (+-0.5, 0), nose base near (0, 0.65), chin near y = 1.65, cheeks +-0.95. Without
    the forehead the polygon is cut just above the eyebrows (SBI drops the forehead points
    sometimes so that masks vary). ``rng`` jitters width, height and centre by a few percent.
    """
    jit = (lambda s: float(rng.uniform(1 - s, 1 + s))) if rng is not None else (lambda s: 1.0)
    cx, cy = 0.0, 0.42 * jit(0.1)
    ax, top_b, bot_b = 0.95 * jit(0.08), 1.25 * jit(0.1), 1.2 * jit(0.08)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = cx + ax * np.cos(t)
    # upper half uses the taller radius (forehead), lower half the jaw, narrowed towards the chin
    b = np.where(np.sin(t) < 0, top_b, bot_b)
    y = cy + b * np.sin(t)
    x = np.where(np.sin(t) > 0, x * (1 - 0.22 * np.sin(t) ** 2), x)
    if not forehead:
        y = np.maximum(y, -0.42 * jit(0.15))
    return face_frame(landmarks).to_image(np.stack([x, y], 1))
