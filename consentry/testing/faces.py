"""Face test media built from real face crops (read from ../shared, never committed):
a photo with several faces on a plain background, and single frames of videos."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image


def real_crops(root: Path, n: int, offset: int = 0) -> list[Path]:
    """REAL face crops listed in ``root/labels.tsv`` (sorted by file name), ``n`` from ``offset``."""
    rows = (root / "labels.tsv").read_text().splitlines()[1:]
    names = sorted(r.split("\t")[0] for r in rows if "\tREAL\t" in r and "faces_224/" in r)
    return [root / name for name in names[offset : offset + n]]


def group_photo(crops: list[Path], size: tuple[int, int] = (1280, 720), face_px: int = 200) -> np.ndarray:
    """The crops resized to ``face_px`` and laid out in a row (wrapping) on a grey gradient,
    apart enough that no two overlap: one face per crop."""
    width, height = size
    ramp = np.linspace(90, 170, width, dtype=np.float32)
    canvas = np.repeat(np.repeat(ramp[None, :, None], height, axis=0), 3, axis=2).astype(np.uint8)
    gap = 24
    per_row = max(1, (width - gap) // (face_px + gap))
    for i, path in enumerate(crops):
        row, col = divmod(i, per_row)
        x, y = gap + col * (face_px + gap), gap + row * (face_px + gap)
        if y + face_px > height:
            raise ValueError(f"{len(crops)} faces of {face_px} px do not fit in {width}x{height}")
        face = Image.open(path).convert("RGB").resize((face_px, face_px), Image.Resampling.LANCZOS)
        canvas[y:y + face_px, x:x + face_px] = np.asarray(face)
    return canvas


def video_frame(path: Path, index: int) -> np.ndarray:
    """Frame ``index`` (decode order, from 0) of a video as RGB."""
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise ValueError(f"{path} has fewer than {index + 1} frames")


def save_png(rgb: np.ndarray, path: Path) -> Path:
    Image.fromarray(rgb).save(path)
    return path
