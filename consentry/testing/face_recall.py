"""Face recall per face size on real faces: REAL DFDC crops (read from ../shared, never
committed) pasted at a chosen size on 1280x720 synthetic backgrounds, so every face's place
is known. Used by bench/bench_face_recall.py and tests/test_perf_face_recall.py to compare two
face-finding paths on the same pictures.

The DFDC crops are tight around the face: dlib's box on a crop of side S is about 0.9 S wide
(median 0.90-0.93 measured), so "size" below is the crop's side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from consentry.testing.samples import synthetic_scene

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Planted:
    picture: np.ndarray  # 1280x720 RGB
    boxes: tuple[Box, ...]  # where each crop was pasted


def crop_paths(root: Path, n: int, offset: int = 0) -> list[Path]:
    """``n`` REAL crops listed in ``root/labels.tsv``, sorted by name, from ``offset``."""
    rows = (root / "labels.tsv").read_text().splitlines()[1:]
    names = sorted(r.split("\t")[0] for r in rows if "\tREAL\t" in r)
    return [root / name for name in names[offset:offset + n]]


def planted_pictures(crops: list[Path], side: int, per_picture: int = 8,
                     seed: int = 0) -> list[Planted]:
    """The crops resized to ``side`` px, ``per_picture`` to a 1280x720 picture, on a grid with
    a gap of half a crop (faces never touch), jittered, on noisy synthetic shapes."""
    rng = np.random.default_rng(seed)
    cell = int(side * 1.5)
    cols, rows = 1280 // cell, 720 // cell
    slots = [(r, c) for r in range(rows) for c in range(cols)]
    per_picture = min(per_picture, len(slots))
    out = []
    for start in range(0, len(crops), per_picture):
        base = np.asarray(synthetic_scene(seed * 1000 + start, (1280, 720)), dtype=np.int16)
        canvas = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
        boxes = []
        chosen = rng.permutation(len(slots))[:per_picture]
        for path, slot in zip(crops[start:start + per_picture], chosen, strict=False):
            r, c = slots[slot]
            x = c * cell + int(rng.integers(0, cell - side + 1))
            y = r * cell + int(rng.integers(0, cell - side + 1))
            face = Image.open(path).convert("RGB").resize((side, side), Image.Resampling.LANCZOS)
            canvas[y:y + side, x:x + side] = np.asarray(face)
            boxes.append((float(x), float(y), float(x + side), float(y + side)))
        out.append(Planted(canvas, tuple(boxes)))
    return out


def found(planted: Box, detections: list[Box]) -> bool:
    """A detection whose centre lies in the pasted crop and whose width is 0.25-1.3 of it."""
    x0, y0, x1, y1 = planted
    side = x1 - x0
    for d in detections:
        cx, cy = (d[0] + d[2]) / 2, (d[1] + d[3]) / 2
        if x0 <= cx <= x1 and y0 <= cy <= y1 and 0.25 * side <= d[2] - d[0] <= 1.3 * side:
            return True
    return False


def recall(pictures: list[Planted], detect: Callable[[np.ndarray], list[Box]]) -> tuple[int, int]:
    """(faces found, faces planted) by ``detect`` (a picture -> boxes)."""
    hits = total = 0
    for item in pictures:
        boxes = detect(item.picture)
        hits += sum(found(b, boxes) for b in item.boxes)
        total += len(item.boxes)
    return hits, total
