"""Inference with onnxruntime only: cut faces as in training, score them, aggregate per track.

Face crops: the canonical square around dlib's 5 landmarks (geometry.crop_box), the framing
of the DFDC crops the model was trained on. An image that is itself a face crop - no face is
found, or the face found fills the frame - is scored whole, as one face (so face-crop datasets
can be evaluated as they are).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from consentry.detector.geometry import crop_box

MODEL_NAME = "manipulation-sbi-lite0.onnx"
SMALL_FACE_RATIO = 0.5  # faces narrower than half the largest face in the frame are ignored
CROP_MARGIN = 1.05  # centre of the training margins (0.95-1.15)


def model_path() -> Path:
    """The shipped model: package data first (wheel or editable install), then the repo's models/."""
    packaged = Path(str(resources.files("consentry.detector") / "models" / MODEL_NAME))
    if packaged.is_file():
        return packaged
    repo = Path(__file__).resolve().parents[2] / "models" / MODEL_NAME
    if repo.is_file():
        return repo
    raise FileNotFoundError(f"detector model {MODEL_NAME} not found (looked in {packaged} and {repo})")


@dataclass
class ModelInfo:
    size: int = 160
    threshold: float = 0.5
    aggregation: str = "mean"
    top_k: int = 5
    flip: bool = False  # also score the mirrored crop and average (kept only if validation says so)
    extra: dict = field(default_factory=dict)


def read_model_info(path: Path | None = None) -> ModelInfo:
    """The settings stored beside a model (``<model>.json``: size, threshold, aggregation...)."""
    meta_file = Path(path or model_path()).with_suffix(".json")
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    known = {k: meta[k] for k in ("size", "threshold", "aggregation", "top_k", "flip") if k in meta}
    return ModelInfo(**known, extra=meta)


class Scorer:
    """One onnxruntime session; ``score`` takes face crops, returns P(manipulated) per crop."""

    def __init__(self, path: Path | None = None, threads: int = 2) -> None:
        from consentry.onnxrt import load_onnxruntime

        ort = load_onnxruntime()  # telemetry off

        path = path or model_path()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.info = read_model_info(path)

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        s = self.info.size
        if rgb.shape[:2] != (s, s):
            rgb = np.asarray(Image.fromarray(rgb).resize((s, s), Image.BILINEAR))
        return rgb.astype(np.float32).transpose(2, 0, 1)

    def score(self, crops: list[np.ndarray], batch: int = 32) -> np.ndarray:
        if not crops:
            return np.zeros(0, np.float32)
        out = []
        for i in range(0, len(crops), batch):
            x = np.stack([self.prepare(c) for c in crops[i:i + batch]])
            p = self.session.run(None, {"rgb": x})[0].reshape(-1)
            if self.info.flip:
                mirrored = np.ascontiguousarray(x[..., ::-1])
                p = (p + self.session.run(None, {"rgb": mirrored})[0].reshape(-1)) / 2
            out.append(p)
        return np.clip(np.concatenate(out), 0.0, 1.0)

    def occlusion_map(self, crop: np.ndarray, grid: int = 8) -> np.ndarray:
        """grid x grid map in [0, 1]: how much the score drops when each cell is greyed out."""
        s = self.info.size
        base = self.prepare(crop)
        cell = s // grid
        variants = []
        for gy in range(grid):
            for gx in range(grid):
                v = base.copy()
                v[:, gy * cell:(gy + 1) * cell, gx * cell:(gx + 1) * cell] = 127.0
                variants.append(v)
        x = np.stack([base, *variants])
        scores = np.concatenate([self.session.run(None, {"rgb": x[i:i + 32]})[0].reshape(-1)
                                 for i in range(0, len(x), 32)])
        drop = np.clip(scores[0] - scores[1:], 0, None).reshape(grid, grid)
        return drop / drop.max() if drop.max() > 0 else drop


def face_crop(rgb: np.ndarray, landmarks: np.ndarray, size: int = 224) -> np.ndarray:
    from consentry.detector.data import cut

    return cut(rgb, crop_box(landmarks, margin=CROP_MARGIN), size)


def is_face_crop(shape: tuple[int, ...], landmarks: np.ndarray | None) -> bool:
    """True when the picture is itself a face crop: no face found, or the face fills it."""
    if landmarks is None:
        return True
    x0, _y0, x1, _y1 = crop_box(landmarks)
    return (x1 - x0) >= 0.8 * min(shape[0], shape[1])


def keep_large(faces: list, width=lambda f: f.size) -> list:
    """Drop faces much smaller than the largest in the frame (background people, posters)."""
    if not faces:
        return []
    largest = max(width(f) for f in faces)
    return [f for f in faces if width(f) >= SMALL_FACE_RATIO * largest]


def aggregate(scores: list[float] | np.ndarray, method: str = "mean", top_k: int = 5) -> float:
    """One score per track from its per-frame scores.

    ``confident``: the DFDC winners' rule - if enough frames are confidently fake, average those;
    else if nearly all are confidently real, average those; else the plain mean.
    """
    s = np.asarray(scores, np.float64)
    if not len(s):
        return 0.0
    if method == "mean":
        return float(s.mean())
    if method == "topk":
        return float(np.sort(s)[-min(top_k, len(s)):].mean())
    if method == "median":
        return float(np.median(s))
    if method == "confident":
        hi, lo = s[s > 0.8], s[s < 0.2]
        if len(hi) > max(1, 0.25 * len(s)):
            return float(hi.mean())
        if len(lo) > 0.9 * len(s):
            return float(lo.mean())
        return float(s.mean())
    raise ValueError(f"unknown aggregation {method!r}")


AGGREGATIONS = ("mean", "median", "topk", "confident")
# what calibration fixes a video track's aggregation to unless asked to choose (docs/detector.md,
# "Fifth attempt"): a real video's median reaches the threshold only when half its frames do
FIXED_AGGREGATION = "median"


def track_score(scores: list[float] | np.ndarray, method: str = "mean", top_k: int = 5) -> float:
    """A track's score as the scan reports it (and evaluation ranks it): the aggregate, rounded."""
    return round(aggregate(scores, method, top_k), 4)
