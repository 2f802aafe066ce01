"""The fixed splits, and the helpers features.py prepares training faces with.

Splits (fixed, so every run and every report uses the same ones):
- FF++ c40 (../shared/data/deepfake-dev): the 10 YouTube originals all have fakes made from
  them, so none is trained on. Pairs 183/253 and 469/481 (4 real + 16 fake videos) are the
  validation set (model selection, threshold, aggregation); pairs 585/599, 672/720, 866/878
  (6 real + 24 fake) are the held-out test set. The 10 Google DFD actor originals have no
  fakes here: their frames are training data.
- DFDC crops: the deepfake-dev crops (and every crop of their source videos) are the held-out
  test set. From the rest of ../shared/data/dfdc-faces, ``VAL_GROUPS`` source videos (their REAL
  crop and their FAKE crops) are the validation set; the remaining crops are training data.
``calib_dfdc``: REAL crops of training source videos that training never reads (past the first
``READ_REALS`` in ``read_order``) and whose source video has no training fake - threshold
reals only (build.calibrate), never trained on.
``train_dfdc`` / ``train_video`` hold REAL items only (self-blending needs real faces);
``train_fakes`` holds DFDC FAKE crops of training source videos - never of a validation or
test source video - for the second-generation detector (features.py).

Training data preparation is not scanning, but video frames come from the scan's decoder
(consentry.media.video, within its limits) and faces from the faces signal's finder (dlib HOG +
5 landmarks, consentry.signals.faces.finder). Only the cutting of training crops around those
landmarks is the detector's own.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from consentry.signals.faces.finder import FaceFinder

FFPP_VAL_IDS = {"183", "253", "469", "481"}
FFPP_TEST_IDS = {"585", "599", "672", "720", "866", "878"}
VAL_GROUPS = 400
READ_SBI, READ_PLAIN = 3000, 6500  # training reals features.prepare_sources reads, in read_order
READ_REALS = READ_SBI + READ_PLAIN
DFDC_CROP_PAD = 56  # pad the tight 224 px crops so HOG sees the whole face


@dataclass(frozen=True)
class Row:
    file: Path
    label: str
    original: str
    dataset: str
    kind: str


def read_labels(tsv: Path) -> list[Row]:
    with tsv.open(newline="") as fh:
        return [Row(tsv.parent / r["file"], r["label"].upper(), r.get("original") or "",
                    r.get("dataset") or "", r.get("kind") or "")
                for r in csv.DictReader(fh, delimiter="\t")]


def _stem(name: str) -> str:
    return Path(name).stem


def ffpp_ids(row: Row) -> set[str]:
    """YouTube ids a FF++ file involves (``183.mp4`` -> {183}; ``183_253.mp4`` -> {183, 253})."""
    return set(_stem(row.file.name).split("_")) if "youtube" in str(row.file) or "manipulate" in str(row.file) else set()  # noqa: E501


def dfdc_group(row: Row) -> str:
    return _stem(row.original) if row.label == "FAKE" else _stem(row.file.name)


def read_order(train_dfdc: list[Row]) -> list[Row]:
    """The training reals in the seeded order training reads them (the first READ_SBI become
    self-blend sources, the next READ_PLAIN plain reals; the rest are never read)."""
    ordered = list(train_dfdc)
    random.Random(0).shuffle(ordered)
    return ordered


def splits(shared: Path) -> dict[str, list[Row]]:
    dev = read_labels(shared / "data/deepfake-dev/labels.tsv")
    faces = read_labels(shared / "data/dfdc-faces/labels.tsv")
    dev_crops = [r for r in dev if r.kind == "image"]
    videos = [r for r in dev if r.kind != "image"]
    held = {dfdc_group(r) for r in dev_crops} | {r.file.name for r in dev_crops}
    rest = [r for r in faces if dfdc_group(r) not in held and r.file.name not in held]
    with_fakes = sorted({dfdc_group(r) for r in rest if r.label == "FAKE"}
                        & {dfdc_group(r) for r in rest if r.label == "REAL"})
    val_groups = set(random.Random(0).sample(with_fakes, VAL_GROUPS))
    train_dfdc = [r for r in rest if r.label == "REAL" and dfdc_group(r) not in val_groups]
    # the research dataset's own labelled fakes of the training source videos (features.py)
    train_fakes = [r for r in rest if r.label == "FAKE" and dfdc_group(r) not in val_groups]
    faked = {dfdc_group(r) for r in train_fakes}
    return {
        "train_dfdc": train_dfdc,
        "train_video": [r for r in videos if r.label == "REAL" and not ffpp_ids(r)],
        "train_fakes": train_fakes,
        "calib_dfdc": [r for r in read_order(train_dfdc)[READ_REALS:] if dfdc_group(r) not in faked],
        "val_dfdc": [r for r in rest if dfdc_group(r) in val_groups],
        "val_video": [r for r in videos if ffpp_ids(r) and ffpp_ids(r) <= FFPP_VAL_IDS],
        "test_dfdc": dev_crops,
        "test_video": [r for r in videos if ffpp_ids(r) and ffpp_ids(r) <= FFPP_TEST_IDS],
    }


def face_finder() -> FaceFinder:
    from consentry.signals.faces.finder import FaceFinder

    return FaceFinder()


def crop_landmarks(finder: FaceFinder, rgb: np.ndarray) -> np.ndarray | None:
    """Landmarks of the largest face in an already-cropped face (padded so HOG sees it whole)."""
    pad = DFDC_CROP_PAD
    found = finder.find(np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge"))
    if not found:
        return None
    largest = max(found, key=lambda d: d.size)
    return np.asarray(largest.landmarks, np.float32) - pad


def video_faces(path: Path, step: int, finder: FaceFinder) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(frame index, full-res RGB, landmarks of the largest face) every ``step`` frames, decoded
    and found as a scan's faces signal does (detection at the finder's video side, landmarks on
    the full frame)."""
    from consentry.errors import UnsupportedMedia
    from consentry.media import video as video_media
    from consentry.media.sniff import sniff
    from consentry.settings import Limits
    from consentry.types import MediaKind

    limits = Limits()
    with path.open("rb") as fh:
        sniffed = sniff(fh.read(64))
        if sniffed is None or sniffed.kind is not MediaKind.VIDEO:
            raise UnsupportedMedia(f"{path}: not a video")
        with video_media.open_video(fh, sniffed.format, limits) as (container, info):
            for frame in video_media.iter_frames(container, info, limits):
                if frame.index % step:
                    continue
                small = frame.rgb_scaled(finder.settings.video_side)
                found = finder.find_scaled(small, lambda f=frame: f.rgb, frame=frame.index)
                if found:
                    largest = max(found, key=lambda d: d.size)
                    yield frame.index, frame.rgb, np.asarray(largest.landmarks, np.float32)


def cut(rgb: np.ndarray, box: tuple[float, float, float, float], size: int) -> np.ndarray:
    """Square crop (edge-padded where it leaves the frame) resized to ``size``."""
    x0, y0, x1, y1 = (round(v) for v in box)
    h, w = rgb.shape[:2]
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    if pad:
        rgb = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    return np.asarray(Image.fromarray(rgb[y0:y1, x0:x1]).resize((size, size), Image.BILINEAR))
