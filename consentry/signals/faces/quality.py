"""How good a face is for matching: size, sharpness and a rough pose from 5 landmarks.

The descriptor is reliable on large, sharp, near-frontal faces; profile views and motion
blur push a person's own faces apart. These measures decide which detections are matched
(``matchable``) and which few of a track are embedded (``quality_score``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class QualityGate:
    """Faces below these are reported but never matched."""

    min_size: float = 64.0  # face width in pixels of the full frame
    min_sharpness: float = 15.0  # variance of the Laplacian on the 150 px aligned crop
    max_abs_yaw: float = 45.0  # degrees, rough

    def passes(self, size: float, sharpness: float, yaw: float) -> bool:
        return size >= self.min_size and sharpness >= self.min_sharpness and abs(yaw) <= self.max_abs_yaw


def sharpness(chip_rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the grey aligned crop: low for blurred or flat faces."""
    grey = cv2.cvtColor(chip_rgb, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def pose(landmarks: np.ndarray) -> dict[str, float]:
    """Rough roll and yaw in degrees from dlib's 5 points (two corners per eye, nose base).

    Roll is the tilt of the line between the eye centres. Yaw comes from where the nose sits
    between the eyes along that line: halfway for a frontal face, near one eye when turned.
    """
    eye_a = landmarks[0:2].mean(axis=0)
    eye_b = landmarks[2:4].mean(axis=0)
    left, right = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
    axis = right - left
    span = float(np.dot(axis, axis))
    if span < 1e-6:
        return {"roll": 0.0, "yaw": 90.0}
    roll = math.degrees(math.atan2(axis[1], axis[0]))
    along = float(np.dot(landmarks[4] - left, axis)) / span  # 0.5 when frontal
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, 2.0 * (along - 0.5)))))
    return {"roll": round(roll, 1), "yaw": round(yaw, 1)}


def quality_score(size: float, sharp: float, yaw: float) -> float:
    """Rank faces of one track: bigger, sharper and more frontal first (saturating terms)."""
    size_term = min(size, 200.0) / 200.0
    sharp_term = min(sharp, 200.0) / 200.0
    frontal = max(0.0, math.cos(math.radians(yaw)))
    return size_term * (0.5 + 0.5 * sharp_term) * frontal
