"""Find, align and grade the faces of one picture (an image or one sampled video frame).

Detection runs on a downscaled copy (HOG cost grows with pixels; it finds faces of about
80 px and up in the picture it is given), landmarks and the aligned crop on the full frame
(the descriptor needs the detail). The aligned crop (``chip``) is what the descriptor reads;
it stays in memory only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from consentry.signals.face_types import FaceDetection
from consentry.signals.faces import dlib_files
from consentry.signals.faces.quality import QualityGate, pose, quality_score, sharpness

CHIP_SIZE = 150  # dlib's ResNet descriptor expects 150x150 crops with 0.25 padding
CHIP_PADDING = 0.25


@dataclass(frozen=True)
class FinderSettings:
    image_side: int = 1280  # longest side images are detected at
    video_side: int = 960  # longest side video frames are detected at (docs/faces.md)
    upsample: int = 0  # HOG pyramid upsampling: 1 finds faces half the size at 4x the cost
    # HOG on the grey picture: one gradient channel instead of the strongest of three, ~25%
    # less detector time, recall per face size unchanged on shared faces (docs/performance.md,
    # tests/test_perf_face_recall.py). Landmarks and crops still read the colour picture.
    grey: bool = True
    gate: QualityGate = field(default_factory=QualityGate)


def downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA)


class FaceFinder:
    """Detects faces, fits 5 landmarks, cuts the aligned crop and grades it."""

    def __init__(self, settings: FinderSettings | None = None) -> None:
        self.settings = settings or FinderSettings()
        self._detector = dlib_files.detector()
        self._shapes = dlib_files.shape_predictor()

    def find(self, full: np.ndarray, *, coord_scale: float = 1.0) -> list[FaceDetection]:
        """Faces in an image (HxWx3 uint8 RGB). ``coord_scale`` maps ``full`` pixels to the
        item's own (a JPEG decoded at reduced scale reports boxes in its real size)."""
        small = downscale(full, self.settings.image_side)
        return self.find_scaled(small, lambda: full, coord_scale=coord_scale)

    def detector_input(self, small: np.ndarray) -> np.ndarray:
        if self.settings.grey and small.ndim == 3:
            return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        return np.ascontiguousarray(small)

    def detect_boxes(self, rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
        """The detector's boxes alone, in ``rgb`` pixels (recall measurements)."""
        small = downscale(rgb, self.settings.image_side)
        rects, _, _ = self._detector.run(self.detector_input(small), self.settings.upsample, 0.0)
        k = rgb.shape[1] / small.shape[1]
        return [(r.left() * k, r.top() * k, r.right() * k, r.bottom() * k) for r in rects]

    def find_scaled(self, small: np.ndarray, get_full: Callable[[], np.ndarray], *, frame: int = 0,
                    timestamp: float = 0.0, coord_scale: float = 1.0) -> list[FaceDetection]:
        """Detect on ``small``; align on the full frame, fetched only when a face is found
        (most sampled frames of most videos need no full-size RGB conversion then)."""
        import dlib

        rects, scores, _ = self._detector.run(self.detector_input(small), self.settings.upsample, 0.0)
        if not rects:
            return []
        full = np.ascontiguousarray(get_full())
        to_full = full.shape[1] / small.shape[1]
        height, width = full.shape[:2]
        found: list[FaceDetection] = []
        for rect, score in zip(rects, scores, strict=True):
            x0 = max(0.0, rect.left() * to_full)
            y0 = max(0.0, rect.top() * to_full)
            x1 = min(float(width), rect.right() * to_full)
            y1 = min(float(height), rect.bottom() * to_full)
            if x1 - x0 < 4 or y1 - y0 < 4:
                continue
            box = dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
            shape = self._shapes(full, box)
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
            chip = np.asarray(dlib.get_face_chip(full, shape, size=CHIP_SIZE, padding=CHIP_PADDING))
            sharp = sharpness(chip)
            size = (x1 - x0) * coord_scale
            angles = pose(points)
            found.append(FaceDetection(
                frame=frame, timestamp=timestamp,
                box=(x0 * coord_scale, y0 * coord_scale, x1 * coord_scale, y1 * coord_scale),
                landmarks=points * coord_scale, size=size, sharpness=sharp, pose=angles,
                matchable=self.settings.gate.passes(size, sharp, angles["yaw"]),
                chip=chip, quality=quality_score(size, sharp, angles["yaw"]), score=float(score),
            ))
        return found
