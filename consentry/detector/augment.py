"""Training views of a real face and its self-blended twin, augmented identically.

Both images of a pair get the same crop, flip, colour change, down-and-up scaling and JPEG
quality (40-100), so the only difference the classifier can use is the blend itself; the
compression and resizing are as strong as FF++ c40 and DFDC's re-encoded crops.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from consentry.detector.geometry import crop_box
from consentry.detector.sbi import colour_jitter, self_blend


def _inset_box(w: int, h: int, rng: np.random.Generator) -> tuple[float, float, float, float]:
    a = rng.uniform(0, 0.06, 4)
    return (a[0] * w, a[1] * h, w - a[2] * w, h - a[3] * h)


def _canonical_box(lm: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = crop_box(lm, margin=float(rng.uniform(0.95, 1.15)))
    side = x1 - x0
    dx, dy = rng.uniform(-0.03, 0.03, 2) * side
    return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)


def _crop(rgb: np.ndarray, box: tuple[float, float, float, float], size: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    scale_x, scale_y = size / (x1 - x0), size / (y1 - y0)
    m = np.array([[scale_x, 0, -x0 * scale_x], [0, scale_y, -y0 * scale_y]], np.float32)
    return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_AREA if scale_x < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def training_pair(rgb: np.ndarray, lm: np.ndarray, whole: bool, size: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(real, fake) uint8 arrays of ``size`` px from one real face and its landmarks."""
    lm = np.asarray(lm, np.float32).copy()
    if rng.random() < 0.5:
        rgb = rgb[:, ::-1].copy()
        lm[:, 0] = rgb.shape[1] - 1 - lm[:, 0]
    fake, _ = self_blend(rgb, lm, rng)
    box = _inset_box(rgb.shape[1], rgb.shape[0], rng) if whole else _canonical_box(lm, rng)
    pair = [_crop(rgb, box, 256), _crop(fake, box, 256)]
    # shared photometric and compression augmentations
    seed = int(rng.integers(1 << 31))
    if rng.random() < 0.5:
        pair = [colour_jitter(p, np.random.default_rng(seed), strength=0.7) for p in pair]
    if rng.random() < 0.6:
        f = rng.uniform(0.35, 0.9)
        small = int(256 * f)
        pair = [cv2.resize(cv2.resize(p, (small, small), interpolation=cv2.INTER_AREA), (256, 256),
                           interpolation=cv2.INTER_LINEAR) for p in pair]
    if rng.random() < 0.85:
        q = int(rng.integers(40, 101))
        pair = [_jpeg(p, q) for p in pair]
    out = [cv2.resize(p, (size, size), interpolation=cv2.INTER_AREA) for p in pair]
    return out[0], out[1]
