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
from typing import Any

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


@dataclass(frozen=True)
class TrackSummary:
    """What the item's JSON says of one face track: its span and its best face's geometry."""

    track: int
    first_frame: int
    last_frame: int
    n_frames: int
    best_frame: int
    box: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]
    size: float
    sharpness: float
    pose: tuple[tuple[str, float], ...]
    matchable: bool

    @classmethod
    def of(cls, track: FaceTrack) -> TrackSummary:
        best = max(track.detections, key=lambda d: (d.matchable, d.quality))
        frames = track.frames
        return cls(track.track, frames[0], frames[-1], len(frames), best.frame,
                   tuple(round(v, 1) for v in best.box),  # type: ignore[arg-type]
                   tuple((round(float(x), 1), round(float(y), 1)) for x, y in best.landmarks),
                   round(best.size, 1), round(best.sharpness, 1), tuple(best.pose.items()),
                   any(d.matchable for d in track.detections))

    def as_json(self) -> dict[str, Any]:
        return {"track": self.track, "frames": [self.first_frame, self.last_frame],
                "n_frames": self.n_frames, "best_frame": self.best_frame, "box": list(self.box),
                "landmarks": [list(p) for p in self.landmarks], "size": self.size,
                "sharpness": self.sharpness, "pose": dict(self.pose), "matchable": self.matchable}


@dataclass(frozen=True)
class FacesFound:
    """The faces signal's output: ``faces: [track, ...]``."""

    tracks: tuple[TrackSummary, ...]

    @classmethod
    def of(cls, tracks: list[FaceTrack]) -> FacesFound:
        return cls(tuple(TrackSummary.of(t) for t in tracks))

    def as_json(self) -> dict[str, Any]:
        return {"faces": [t.as_json() for t in self.tracks]}
