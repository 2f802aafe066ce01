"""Face data shared by the faces signal and the stages that use it (likeness, manipulation).

Contract between signals:
- The ``faces`` signal's ``SignalResult.payload`` is a ``FacesPayload``.
- For videos, while frames stream, the faces consumer puts the faces it found on the current
  frame in ``shared["faces"]`` as a list of ``(track_id, FaceDetection)``; a consumer that
  ``requires = ("faces",)`` and samples the same frames reads them there (with the frame's
  pixels) in its own ``add``.
- For images, one frame (index 0) and one track per face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FaceDetection:
    frame: int
    timestamp: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the full frame
    landmarks: np.ndarray  # 5x2 float: eye corners / nose (dlib 5-point order), full-frame pixels
    size: float  # face width in pixels
    sharpness: float  # variance of the Laplacian on the aligned crop
    pose: dict[str, float] = field(default_factory=dict)  # rough yaw/roll in degrees
    matchable: bool = True  # large and sharp enough to embed and match
    embedding: np.ndarray | None = None  # 128-D descriptor when computed
    # Added by the faces signal (defaults keep older constructors working):
    chip: np.ndarray | None = None  # 150x150 RGB aligned crop (memory only, for the descriptor)
    quality: float = 0.0  # ranking score within a track (size, sharpness, frontalness)
    score: float = 0.0  # detector confidence (HOG margin)


@dataclass
class FaceTrack:
    track: int
    detections: list[FaceDetection] = field(default_factory=list)

    @property
    def frames(self) -> list[int]:
        return [d.frame for d in self.detections]


@dataclass
class FacesPayload:
    tracks: list[FaceTrack] = field(default_factory=list)
