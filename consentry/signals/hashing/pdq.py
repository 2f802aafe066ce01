"""PDQ, Meta's perceptual photo hash, computed in numpy from a luma plane.

This follows Meta's C++ reference (ThreatExchange ``pdq/cpp``) step for step: float luma
(0.299 R + 0.587 G + 0.114 B), two passes of the Jarosz box filter along rows and columns with
Meta's window size and edge handling, decimation to 64x64 at cell centres, the image-domain
quality metric, the 16x16 corner of the 2-D DCT, and one bit per coefficient above the median.
The box filters and the decimation are linear, so for each image size they collapse into two
banded 64-row matrices (``_band``) and the front end is two small matrix products: 0.3 ms on a
960x540 plane where the C++ binding (``pdqhash``) takes 7 ms, most of it in temporaries.
tests/test_pdq_impl.py holds it bit for bit to ``pdqhash`` and tests/test_reference_hashes.py
to Meta's published hashes.

Hashes are 256 bits written as 64 lowercase hex characters, most significant bit first,
exactly as ThreatExchange exchanges them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

HEX_LEN = 64
# Meta's dihedral order: original, rotate 90, 180, 270, flip x, flip y, flip +1, flip -1.
DIHEDRAL_NAMES = ("original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flip+1", "flip-1")
# The dihedral variant of an EXIF-oriented image's hash that is the hash of the file's pixels
# as stored (what pytx and HMA hash: they ignore EXIF orientation), by orientation tag.
# Measured on Meta's exif-rotn-* images and synthetic flips (tests/test_pytx_interop.py).
STORED_VARIANT = {1: "original", 2: "flipy", 3: "rotate180", 4: "flipx", 5: "flip+1", 6: "rotate90",
                  7: "flip-1", 8: "rotate270"}

_MIN_SIDE = 5  # Meta hashes anything smaller as all zeros with quality 0
_BLOCK_PIXELS = 4 * 1024 * 1024  # float temporaries are made this many values at a time
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_k = np.arange(16, dtype=np.float64)[:, None]
_n = np.arange(64, dtype=np.float64)[None, :]
_DCT = (np.sqrt(2.0 / 64) * np.cos((np.pi / 2.0 / 64) * (_k + 1) * (2 * _n + 1))).astype(np.float32)
_ZERO = "0" * HEX_LEN
_ODD = (np.arange(16) & 1).astype(bool)


@dataclass(frozen=True)
class PdqHash:
    hex: str
    quality: int


def bits_to_hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def luma_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """Float32 luma with Meta's coefficients (an HxW array passes through as grey)."""
    if rgb.ndim == 2:
        return rgb.astype(np.float32, copy=False)
    luma = np.empty(rgb.shape[:2], dtype=np.float32)
    step = max(1, _BLOCK_PIXELS // max(1, rgb.shape[1]))
    for top in range(0, rgb.shape[0], step):  # in blocks: a float copy of a 100 MP image is 1.2 GB
        luma[top : top + step] = rgb[top : top + step, :, :3] @ _LUMA
    return luma


@dataclass(frozen=True)
class _Band:
    """One axis of Meta's downsampling as a banded 64 x length matrix: output i is
    ``weights[i] . x[starts[i] : starts[i] + span]`` (a tent about twice the box window)."""

    starts: np.ndarray  # (64,) int
    weights: np.ndarray  # (64, span) float32
    dense: np.ndarray  # (64, length) float32, the same matrix written out

    @property
    def span(self) -> int:
        return int(self.weights.shape[1])


@lru_cache(maxsize=64)
def _band(full_length: int, scale: int = 1) -> _Band:
    """Meta's two box passes along one axis of ``full_length`` pixels, then decimation, as one
    linear map; for a plane decoded at 1/``scale`` (libjpeg's DCT scaling, where reduced pixel
    j stands for full pixels j*scale .. j*scale+scale-1) the map's weights are summed over each
    reduced pixel's span. That keeps Meta's full-size filter geometry; sizing the filter for
    the smaller plane instead moved hashes of half-scale decodes up to 8 bits on photos and
    14-50 bits on text and checkerboards (bench/bench_pdq_drift.py, docs/performance.md).

    Meta's box filter of window w writes out[o] = mean(in[max(0, o - w + h) .. min(n-1, o + h - 1)])
    with h = (w + 2) // 2; decimation keeps index int((i + 0.5) * n / 64).
    """
    window = (full_length + 2 * 64 - 1) // (2 * 64)
    half = (window + 2) // 2
    positions = np.arange(full_length)
    lo = np.maximum(0, positions - window + half)
    hi = np.minimum(full_length - 1, positions + half - 1)
    picked = ((np.arange(64) + 0.5) * full_length / 64).astype(np.int64)
    dense = np.zeros((64, full_length), dtype=np.float64)
    for row, out in enumerate(picked):
        # second pass: the mean of first-pass outputs k in [lo, hi], each a mean itself
        first = np.arange(lo[out], hi[out] + 1)
        for k in first:
            dense[row, lo[k] : hi[k] + 1] += 1.0 / (hi[k] - lo[k] + 1)
        dense[row] /= len(first)
    if scale > 1:
        reduced = -(-full_length // scale)
        padded = np.zeros((64, reduced * scale))
        padded[:, :full_length] = dense
        dense = padded.reshape(64, reduced, scale).sum(axis=2)
    length = dense.shape[1]
    starts = np.array([np.flatnonzero(r)[0] for r in dense])
    span = max(int(np.flatnonzero(r)[-1]) - int(st) + 1 for r, st in zip(dense, starts, strict=True))
    starts = np.minimum(starts, length - span)  # keep every band inside the axis
    weights = np.stack([dense[i, st : st + span] for i, st in enumerate(starts)])
    return _Band(starts, weights.astype(np.float32), dense.astype(np.float32))


def _axis_band(length: int, full_length: int | None) -> _Band:
    """The band for an axis of ``length`` pixels that stand for ``full_length`` (or itself)."""
    if full_length and full_length != length:
        scale = max(1, round(full_length / length))
        if -(-full_length // scale) == length:
            return _band(full_length, scale)
    return _band(length)


def _cells(luma: np.ndarray, full_shape: tuple[int, int] | None) -> np.ndarray:
    """The 64x64 downsample. Down the rows only the ~10 rows under each tent are read (a
    gather and 64 small products); across, one small dense product."""
    rows, cols = luma.shape
    full_rows, full_cols = full_shape or (None, None)
    down, across = _axis_band(rows, full_rows), _axis_band(cols, full_cols)
    under = down.starts[:, None] + np.arange(down.span)  # the rows under each tent
    blurred = np.empty((64, cols), dtype=np.float32)
    step = max(1, _BLOCK_PIXELS // (64 * down.span))  # columns at a time: bounded memory
    for left in range(0, cols, step):
        picked = luma[under, left : left + step].astype(np.float32)  # (64, span, step)
        blurred[:, left : left + step] = np.matmul(down.weights[:, None, :], picked)[:, 0, :]
    return blurred @ across.dense.T


def _dct16(luma: np.ndarray, full_shape: tuple[int, int] | None) -> tuple[np.ndarray, int]:
    """The 16x16 DCT corner and the quality of an HxW luma plane (float32 or uint8)."""
    cells = _cells(luma, full_shape)
    hundred, full = np.float32(100), np.float32(255)
    down = np.trunc((cells[:-1, :] - cells[1:, :]) * hundred / full)
    across = np.trunc((cells[:, :-1] - cells[:, 1:]) * hundred / full)
    gradient_sum = int(np.abs(down).sum(dtype=np.int64) + np.abs(across).sum(dtype=np.int64))
    return _DCT @ cells @ _DCT.T, min(100, gradient_sum // 90)


def _bits_hex(coefficients: np.ndarray) -> str:
    flat = coefficients.ravel()
    median = np.partition(flat, 127)[127]  # Torben's median of 256: the 128th smallest
    # Meta's bit k = i*16 + j is printed most significant first: reverse before packing.
    return np.packbits(flat[::-1] > median).tobytes().hex()


def _too_small(luma: np.ndarray) -> bool:
    return luma.shape[0] < _MIN_SIDE or luma.shape[1] < _MIN_SIDE


def from_luma(luma: np.ndarray, full_shape: tuple[int, int] | None = None) -> PdqHash:
    """PDQ of an HxW luma plane; ``full_shape`` (rows, cols) when the plane is a 1/2, 1/4 or
    1/8 scale decode of a bigger image (see ``_band``)."""
    if _too_small(luma):
        return PdqHash(_ZERO, 0)
    coefficients, quality = _dct16(luma, full_shape)
    return PdqHash(_bits_hex(coefficients), quality)


def dihedral_from_luma(luma: np.ndarray, full_shape: tuple[int, int] | None = None) -> list[PdqHash]:
    """The 8 hashes in DIHEDRAL_NAMES order, from sign flips and transposes of one DCT."""
    if _too_small(luma):
        return [PdqHash(_ZERO, 0)] * 8
    a, quality = _dct16(luma, full_shape)
    odd_row, odd_col = _ODD[:, None], _ODD[None, :]
    checker = (odd_row ^ odd_col)
    variants = (
        a,
        np.where(odd_col, a, -a).T,  # rotate 90
        np.where(checker, -a, a),  # rotate 180
        np.where(odd_row, a, -a).T,  # rotate 270
        np.where(odd_row, a, -a),  # flip x
        np.where(odd_col, a, -a),  # flip y
        a.T,  # flip +1
        np.where(checker, -a, a).T,  # flip -1
    )
    # One quality for all eight: the transforms permute pixels, they do not change gradients.
    return [PdqHash(_bits_hex(v), quality) for v in variants]


def compute(rgb: np.ndarray) -> PdqHash:
    return from_luma(luma_from_rgb(rgb))
