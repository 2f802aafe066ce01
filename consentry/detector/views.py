"""Training views that look like what platforms serve: one augmentation, drawn at random, applied
identically to every image it is given.

A real face and its self-blended twin go through the same draw (so the blend is the only
difference between them); a labelled DFDC fake and a plain real crop each get their own draw
from the same distribution (so no augmentation can become a cue for either class). What is
mirrored: JPEG re-encoding at quality 30-95, greyscale, resizing x0.25-x2 and back, blur, sensor
noise, colour shifts, crop margin and alignment jitter (margins -6%..+10% per side, a few
degrees of rotation) and screenshot-of-a-screen style rescaling (resample with a different
filter, gamma and contrast of a display, re-encode).
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from consentry.detector.geometry import crop_box
from consentry.detector.sbi import colour_jitter, self_blend

WORK = 256  # side the augmentations run at, before the model's own size


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _warp(rgb: np.ndarray, box: tuple[float, float, float, float], angle: float) -> np.ndarray:
    """Cut ``box`` (x0, y0, x1, y1) rotated by ``angle`` degrees about its centre, to WORK px."""
    x0, y0, x1, y1 = box
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    scale = WORK / (x1 - x0)
    m = cv2.getRotationMatrix2D(centre, angle, scale)
    m[:, 2] += (WORK / 2 - centre[0], WORK / 2 - centre[1])
    return cv2.warpAffine(rgb, m, (WORK, WORK), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def whole_box(w: int, h: int, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A pre-cropped face (DFDC crops are scored whole): inset -6%..+10% per side."""
    a = rng.uniform(-0.06, 0.10, 4)
    return (a[0] * w, a[1] * h, w - a[2] * w, h - a[3] * h)  # negative: beyond the crop (edge-replicated)


def canonical_box(lm: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """The scan's canonical crop around 5 landmarks, margin 0.85-1.15x, shifted up to 4%."""
    x0, y0, x1, y1 = crop_box(lm, margin=float(rng.uniform(0.85, 1.15)))
    side = x1 - x0
    dx, dy = rng.uniform(-0.04, 0.04, 2) * side
    return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)


def _resize_round_trip(img: np.ndarray, f: float, down: int, up: int) -> np.ndarray:
    side = max(8, int(WORK * f))
    return cv2.resize(cv2.resize(img, (side, side), interpolation=down), (WORK, WORK), interpolation=up)


def platform(imgs: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The same random platform treatment for every image in ``imgs`` (WORK x WORK uint8 RGB)."""
    seed = int(rng.integers(1 << 31))
    out = list(imgs)
    if rng.random() < 0.5:
        out = [colour_jitter(p, np.random.default_rng(seed), strength=0.8) for p in out]
    if rng.random() < 0.12:
        out = [np.repeat(cv2.cvtColor(p, cv2.COLOR_RGB2GRAY)[..., None], 3, 2) for p in out]
    if rng.random() < 0.15:
        k = float(rng.uniform(0.4, 1.3))
        out = [cv2.GaussianBlur(p, (0, 0), k) for p in out]
    if rng.random() < 0.6:  # resize x0.25-x2 and back (the model always sees its own size)
        f = float(np.exp(rng.uniform(np.log(0.25), np.log(2.0))))
        down = cv2.INTER_AREA if rng.random() < 0.5 else cv2.INTER_LINEAR
        up = cv2.INTER_LINEAR if rng.random() < 0.5 else cv2.INTER_CUBIC
        out = [_resize_round_trip(p, f, down, up) for p in out]
    if rng.random() < 0.12:  # a screenshot of a screen: display gamma/contrast, odd rescale, PNG-like
        g, c = float(rng.uniform(0.8, 1.25)), float(rng.uniform(0.85, 1.1))
        f = float(rng.uniform(0.6, 1.6))
        lut = np.clip(((np.arange(256) / 255.0) ** g - 0.5) * c * 255 + 127.5, 0, 255).astype(np.uint8)
        out = [_resize_round_trip(cv2.LUT(p, lut), f, cv2.INTER_NEAREST, cv2.INTER_LINEAR) for p in out]
    if rng.random() < 0.2:
        sigma = float(rng.uniform(1.0, 6.0))
        noise = np.random.default_rng(seed + 1).normal(0, sigma, (WORK, WORK, 1 if rng.random() < 0.5 else 3))
        out = [np.clip(p.astype(np.float32) + noise, 0, 255).astype(np.uint8) for p in out]
    if rng.random() < 0.85:
        q = int(rng.integers(30, 96))
        out = [_jpeg(p, q) for p in out]
    return out


def to_size(img: np.ndarray, size: int) -> np.ndarray:
    """Down to the model's input as the scan does (PIL bilinear, antialiased)."""
    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


def single_view(rgb: np.ndarray, lm: np.ndarray | None, size: int, rng: np.random.Generator) -> np.ndarray:
    """One augmented view of a face: whole when ``lm`` is None (a pre-cropped face), else the
    canonical crop around its landmarks."""
    if rng.random() < 0.5:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
        if lm is not None:
            lm = lm.copy()
            lm[:, 0] = rgb.shape[1] - 1 - lm[:, 0]
    box = whole_box(rgb.shape[1], rgb.shape[0], rng) if lm is None else canonical_box(lm, rng)
    img = _warp(rgb, box, float(rng.uniform(-6, 6)) if rng.random() < 0.5 else 0.0)
    return to_size(platform([img], rng)[0], size)


def pair_views(rgb: np.ndarray, lm: np.ndarray, whole: bool, size: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(real, self-blended twin) of one real face, cut and treated identically."""
    lm = np.asarray(lm, np.float32).copy()
    if rng.random() < 0.5:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
        lm[:, 0] = rgb.shape[1] - 1 - lm[:, 0]
    fake, _ = self_blend(rgb, lm, rng)
    box = whole_box(rgb.shape[1], rgb.shape[0], rng) if whole else canonical_box(lm, rng)
    angle = float(rng.uniform(-6, 6)) if rng.random() < 0.5 else 0.0
    real_t, fake_t = platform([_warp(rgb, box, angle), _warp(fake, box, angle)], rng)
    return to_size(real_t, size), to_size(fake_t, size)
