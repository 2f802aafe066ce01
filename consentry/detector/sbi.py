"""Self-Blended Images (Shiohara & Yamasaki, CVPR 2022), written from the paper's description.

A "fake" is made from ONE real face and a transformed copy of ITSELF: no second identity and
nothing generated. The blend leaves what face swaps leave - a blending boundary and a colour,
sharpness and position mismatch between the inner face and its surroundings - and nothing else,
so a classifier trained to tell the pair apart learns those traces.

1. mask: the face outline polygon from the 5-point landmarks (sometimes without the forehead),
   filled and warped by a smooth random (elastic) displacement field;
2. source: a copy of the image with colour jitter and either down-then-up scaling or sharpening,
   shifted a few percent and scaled 0.95-1.05;
3. the mask is shrunk and blurred with random Gaussian kernels and scaled by a blend ratio in
   [0.25, 1]; fake = mask * source + (1 - mask) * target.
"""

from __future__ import annotations

import cv2
import numpy as np

from consentry.detector.geometry import face_outline


def _odd(k: float) -> int:
    k = max(1, int(k))
    return k if k % 2 else k + 1


def elastic(mask: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    """Warp ``mask`` by a Gaussian-smoothed random displacement field (amplitude ``alpha`` px)."""
    h, w = mask.shape
    k = _odd(sigma * 4)
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (k, k), sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (k, k), sigma)
    dx *= alpha / (np.abs(dx).max() + 1e-6)
    dy *= alpha / (np.abs(dy).max() + 1e-6)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def blend_mask(shape: tuple[int, int], landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Float mask in [0, 1] covering the face, deformed, eroded and blurred (before the ratio)."""
    h, w = shape
    poly = face_outline(landmarks, rng, forehead=bool(rng.random() < 0.5))
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, np.round(cv2.convexHull(poly.astype(np.float32))).astype(np.int32), 1.0)
    iod = float(np.linalg.norm(landmarks[0:2].mean(0) - landmarks[2:4].mean(0))) or 1.0
    mask = elastic(mask, rng, alpha=iod * rng.uniform(0.03, 0.1), sigma=iod * rng.uniform(0.15, 0.3))
    # shrink then soften: the boundary lands inside the face and fades over a random width
    kernel = _odd(iod * rng.uniform(0.02, 0.15))
    mask = cv2.erode(mask, np.ones((kernel, kernel), np.uint8))
    blur = _odd(iod * rng.uniform(0.05, 0.35))
    mask = cv2.GaussianBlur(mask, (blur, blur), 0)
    if rng.random() < 0.5:  # a second, different kernel (SBI blurs twice)
        blur2 = _odd(iod * rng.uniform(0.05, 0.25))
        mask = cv2.GaussianBlur(mask, (blur2, blur2), 0)
    return np.clip(mask, 0.0, 1.0)


def colour_jitter(rgb: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    img = rgb.astype(np.float32)
    img += rng.uniform(-15, 15, 3).astype(np.float32) * strength  # RGB shift
    hsv = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-4, 4) * strength) % 180
    hsv[..., 1] *= 1 + rng.uniform(-0.15, 0.15) * strength
    hsv[..., 2] *= 1 + rng.uniform(-0.1, 0.1) * strength
    img = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    contrast = 1 + rng.uniform(-0.15, 0.15) * strength
    bright = rng.uniform(-15, 15) * strength
    img = (img - img.mean()) * contrast + img.mean() + bright
    return np.clip(img, 0, 255).astype(np.uint8)


def _resample_or_sharpen(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = rgb.shape[:2]
    if rng.random() < 0.5:
        f = rng.uniform(0.3, 0.8)
        small = cv2.resize(rgb, (max(2, int(w * f)), max(2, int(h * f))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    amount = rng.uniform(0.3, 1.0)
    blurred = cv2.GaussianBlur(rgb, (0, 0), 1.0)
    return np.clip(rgb.astype(np.float32) * (1 + amount) - blurred * amount, 0, 255).astype(np.uint8)


def _shift(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = rng.uniform(0.95, 1.05)
    tx, ty = rng.uniform(-0.03, 0.03, 2) * (w, h)
    m = np.array([[s, 0, (1 - s) * w / 2 + tx], [0, s, (1 - s) * h / 2 + ty]], np.float32)
    return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def self_blend(rgb: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # noqa: E501
    """(fake, mask): ``rgb`` blended with a transformed copy of itself inside the face outline."""
    target = np.ascontiguousarray(rgb)
    # mismatch strength varies: subtle blends are the ones that teach the boundary, not the tint
    jittered = colour_jitter(target, rng, strength=float(rng.uniform(0.2, 1.0)))
    source = _shift(_resample_or_sharpen(jittered, rng), rng)
    mask = blend_mask(target.shape[:2], np.asarray(landmarks, np.float32), rng)
    mask *= float(rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0]))
    m = mask[..., None]
    fake = m * source.astype(np.float32) + (1 - m) * target.astype(np.float32)
    return np.clip(fake + 0.5, 0, 255).astype(np.uint8), mask
