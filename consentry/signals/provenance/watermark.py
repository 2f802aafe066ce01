"""Decoder for the ``invisible-watermark`` package's ``dwtDct`` scheme (used by Stable
Diffusion's reference scripts and by diffusers' SDXL pipelines), written from the scheme:

1. convert to YUV (OpenCV's BGR->YUV), crop to a multiple of 4, take channel U (the default
   strengths are 0 for Y and 36 for U; the reference loop never reaches V);
2. one-level Haar DWT; cut its approximation band into 4x4 blocks in raster order;
3. in each block, find the coefficient of largest magnitude other than [0, 0]; the block
   carries bit ``(|c| mod 36) > 18``; block n carries payload bit ``n mod L``;
4. each payload bit is the majority vote of its blocks.

The payload length L is not stored, so we test the known payloads. diffusers' SDXL watermarker
hands the encoder RGB arrays as if they were BGR, so both channel orders are tried.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SCALE = 36.0
BLOCK = 4
MIN_PIXELS = 256 * 256  # the reference refuses smaller images
AGREEMENT = 0.9  # bits that must equal a known payload (chance level is 0.5)


def _bits(value: int, n: int) -> np.ndarray:
    return np.array([int(b) for b in format(value, f"0{n}b")], np.uint8)


def _text_bits(text: str) -> np.ndarray:
    return np.unpackbits(np.frombuffer(text.encode(), np.uint8))


# name -> payload bits. Sources: diffusers pipelines/stable_diffusion_xl/watermark.py
# (WATERMARK_MESSAGE), CompVis stable-diffusion scripts/txt2img.py ("StableDiffusionV1"),
# Stability-AI stablediffusion scripts/txt2img.py ("SDV2").
KNOWN_PAYLOADS: dict[str, np.ndarray] = {
    "stable-diffusion-xl": _bits(0b101100111110110010010000011110111011000110011110, 48),
    "stable-diffusion-v1": _text_bits("StableDiffusionV1"),
    "stable-diffusion-v2": _text_bits("SDV2"),
}


_H = 0.7071067811865476  # the Haar analysis filter tap, 1/sqrt(2)


def haar_approximation(channel: np.ndarray) -> np.ndarray:
    """The approximation band of a one-level Haar DWT, bit-identical to
    ``pywt.dwt2(x, "haar")[0]`` (rows, then columns, same float operations) without computing
    the three detail bands. Bit-identical matters: Haar sums of integers tie often, and the
    scheme reads the largest coefficient, so rounding noise decides ties the same way the
    embedder's PyWavelets did."""
    c = channel.astype(np.float64)
    rows = _H * c[0::2] + _H * c[1::2]
    return _H * rows[:, 0::2] + _H * rows[:, 1::2]


def block_bits(rgb: np.ndarray, *, bgr_order: bool) -> np.ndarray:
    """The bit each 4x4 block of the U channel's Haar approximation carries, in raster order."""
    import cv2

    rows, cols = rgb.shape[0] // 4 * 4, rgb.shape[1] // 4 * 4
    code = cv2.COLOR_RGB2YUV if bgr_order else cv2.COLOR_BGR2YUV
    u = cv2.cvtColor(np.ascontiguousarray(rgb[:rows, :cols]), code)[:, :, 1]
    approx = haar_approximation(u)
    nr, nc = approx.shape[0] // BLOCK, approx.shape[1] // BLOCK
    blocks = (approx[: nr * BLOCK, : nc * BLOCK].reshape(nr, BLOCK, nc, BLOCK)
              .transpose(0, 2, 1, 3).reshape(-1, BLOCK * BLOCK))
    magnitudes = np.abs(blocks[:, 1:])
    strongest = np.take_along_axis(magnitudes, magnitudes.argmax(axis=1)[:, None], axis=1)[:, 0]
    return (np.mod(strongest, SCALE) > 0.5 * SCALE).astype(np.uint8)


def decode(carried: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Payload bits and each bit's vote share, for a payload of ``length`` bits."""
    n = len(carried) // length * length
    if n == 0:
        return np.zeros(length, np.uint8), np.full(length, 0.5)
    votes = carried[:n].reshape(-1, length).mean(axis=0)
    # The reference averages the blocks that remain after the last full repeat too.
    tail = carried[n:]
    if len(tail):
        counts = np.full(length, n // length, np.float64)
        sums = votes * counts
        sums[: len(tail)] += tail
        counts[: len(tail)] += 1
        votes = sums / counts
    return (votes * 255 > 127).astype(np.uint8), votes


def detect(rgb: np.ndarray) -> dict[str, Any]:
    """Which known dwtDct payload (if any) the image carries."""
    if rgb.shape[0] * rgb.shape[1] < MIN_PIXELS:
        return {"scheme": "dwtDct", "detected": False, "checked": False,
                "reason": "image smaller than 256x256, the scheme's minimum"}
    best: dict[str, Any] = {"scheme": "dwtDct", "checked": True, "closest": None, "agreement": 0.0}
    for bgr_order in (True, False):
        carried = block_bits(rgb, bgr_order=bgr_order)
        for name, payload in KNOWN_PAYLOADS.items():
            bits, votes = decode(carried, len(payload))
            agreement = float((bits == payload).mean())
            if agreement > best["agreement"]:
                best |= {"closest": name, "agreement": round(agreement, 4),
                         "strength": round(float(np.abs(votes - 0.5).mean() * 2), 4),
                         "channel_order": "bgr" if bgr_order else "rgb-as-bgr"}
    best["match"] = best["closest"] if best["agreement"] >= AGREEMENT else None
    best["detected"] = best["match"] is not None
    return best
