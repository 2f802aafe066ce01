"""The faces signal on real faces (../shared): detection, landmarks, grading, tracking, JSON."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals.base import FrameConsumer, ItemContext, SampledFrame, Signal
from consentry.signals.face_types import FaceDetection, FacesPayload
from consentry.signals.faces import dlib_files
from consentry.signals.faces.quality import pose
from consentry.signals.faces.signal import FacesSignal, faces_sampler
from consentry.signals.faces.tracking import Tracker
from consentry.signals.options import FacesOptions
from consentry.testing.faces import group_photo, real_crops, save_png
from consentry.types import Frame, ItemStatus, SignalResult
from tests.conftest import DEEPFAKE_DEV, THREATEXCHANGE, need

pytestmark = pytest.mark.skipif(dlib_files.unavailable_reason() is not None,
                                reason=str(dlib_files.unavailable_reason()))

CROPS = DEEPFAKE_DEV / "i-Shreyansh__DeepFake-Detection" / "faces_224"
FFPP = DEEPFAKE_DEV / "mudouble__FaceForensics-Detection_Website" / "media" / "in_out_videos"
VIDEO_253 = FFPP / "original/youtube/c40/videos/253.mp4"
REAL_CROPS = ["abfnyenqdw.jpg", "aeftglfxkv.jpg"]


def _real_crops(n: int) -> list[Path]:
    need(DEEPFAKE_DEV / "labels.tsv")
    return real_crops(DEEPFAKE_DEV, n)


def _scan_one(path: Path, settings: ScanSettings | None = None, extra: list[type[Signal]] | None = None):
    analyser = Analyser(settings or ScanSettings(), [FacesSignal, *(extra or [])])
    report = analyser.analyse(path)
    assert report.status is ItemStatus.OK, report.error
    return report


def test_one_face_in_a_real_crop_with_landmarks_and_grades() -> None:
    report = _scan_one(need(CROPS / REAL_CROPS[0]))
    faces = report.as_json()["faces"]
    assert len(faces) == 1
    face = faces[0]
    assert set(face) >= {"track", "frames", "box", "landmarks", "size", "sharpness"}
    x0, y0, x1, y1 = face["box"]
    assert 0 <= x0 < x1 <= 224 and 0 <= y0 < y1 <= 224
    assert len(face["landmarks"]) == 5
    eyes_y = [p[1] for p in face["landmarks"][:4]]
    assert max(eyes_y) < face["landmarks"][4][1]  # the nose is below the eyes
    assert face["size"] > 100 and face["sharpness"] > 0 and face["matchable"]
    payload = report.results["faces"].payload
    assert isinstance(payload, FacesPayload) and payload.tracks[0].detections[0].chip.shape == (150, 150, 3)


def test_json_never_carries_descriptors_or_crops() -> None:
    report = _scan_one(need(CROPS / REAL_CROPS[1]))
    text = json.dumps(report.as_json())
    assert "embedding" not in text and "chip" not in text
    assert len(text) < 2000


def test_no_face_in_a_photo_of_a_bridge() -> None:
    report = _scan_one(need(THREATEXCHANGE / "pdq/data/bridge-mods/aaa-orig.jpg"))
    assert report.as_json()["faces"] == []


def test_every_face_of_a_group_photo(tmp_path: Path) -> None:
    crops = _real_crops(5)
    photo = save_png(group_photo(crops), tmp_path / "group.png")
    faces = _scan_one(photo).as_json()["faces"]
    assert len(faces) == 5
    assert sorted(f["track"] for f in faces) == [0, 1, 2, 3, 4]
    lefts = sorted(f["box"][0] for f in faces)
    assert all(b - a > 150 for a, b in itertools.pairwise(lefts))  # five distinct places


def test_small_faces_are_reported_but_not_matchable(tmp_path: Path) -> None:
    photo = save_png(group_photo(_real_crops(1), size=(640, 360), face_px=100), tmp_path / "small.png")
    faces = Analyser(ScanSettings(), [FacesSignal]).analyse(photo).as_json()["faces"]
    assert len(faces) == 1 and faces[0]["matchable"]
    # scan --min-face-size
    stricter = ScanSettings(options=(FacesOptions(min_face_size=faces[0]["size"] + 1),))
    report = Analyser(stricter, [FacesSignal]).analyse(photo)
    faces = report.as_json()["faces"]
    assert len(faces) == 1 and faces[0]["matchable"] is False
    assert report.results["faces"].payload.tracks[0].detections[0].chip is None  # never matched


class _SeesFaces(Signal):
    """A stand-in for a signal that reads ``shared["faces"]`` (like manipulation)."""

    name = "sees_faces"
    version = "0"
    requires = ("faces",)
    seen: list[tuple[int, list[tuple[int, FaceDetection]]]] = []  # noqa: RUF012

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        return self.result({})

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        sampler = faces_sampler(ctx)
        seen = self.seen

        class Consumer(FrameConsumer):
            def wants(self, index: int, timestamp: float) -> bool:
                return sampler(index, timestamp)

            def add(self, frame: SampledFrame, shared: dict[str, Any]) -> None:
                seen.append((frame.index, shared["faces"]))

            def finish(self) -> SignalResult:
                return SignalResult("sees_faces", "0")

        return Consumer()


def test_video_tracks_and_shared_faces_per_frame() -> None:
    need(VIDEO_253)
    _SeesFaces.seen.clear()
    report = _scan_one(VIDEO_253, ScanSettings(options=(FacesOptions(faces_fps=1.0),)), extra=[_SeesFaces])
    faces = report.as_json()["faces"]
    # 253 is one person in two shots (a cut near 12.5 s): two tracks, each many frames long.
    assert 1 <= len(faces) <= 3
    assert sum(f["n_frames"] for f in faces) >= 12
    longest = max(faces, key=lambda f: f["n_frames"])
    assert longest["frames"][1] - longest["frames"][0] >= 240 and longest["matchable"]
    # The reader saw the same sampled frames (every 30th) with the faces of each frame.
    assert [i for i, _ in _SeesFaces.seen] == list(range(0, 501, 30))
    with_faces = [pairs for _, pairs in _SeesFaces.seen if pairs]
    assert len(with_faces) >= 12
    assert all(isinstance(det, FaceDetection) and det.frame == i
               for i, pairs in _SeesFaces.seen for _, det in pairs)
    # Only the few best faces of a track keep their aligned crop (memory).
    for track in report.results["faces"].payload.tracks:
        assert sum(d.chip is not None for d in track.detections) <= 3


def _det(frame: int, t: float, x: float, size: float = 100.0) -> FaceDetection:
    return FaceDetection(frame, t, (x, 100.0, x + size, 100.0 + size), np.zeros((5, 2)), size, 50.0)


def test_tracker_follows_a_moving_face_and_splits_on_jumps_and_gaps() -> None:
    tracker = Tracker(max_gap_s=1.5)
    ids = [tracker.update([_det(i, i * 0.5, 100 + 40 * i)], i * 0.5)[0][0] for i in range(5)]
    assert len(set(ids)) == 1  # moved 40 px per sample: one track
    jump = tracker.update([_det(5, 2.5, 900)], 2.5)[0][0]
    assert jump != ids[0]
    after_gap = tracker.update([_det(20, 10.0, 900)], 10.0)[0][0]
    assert after_gap != jump
    two = tracker.update([_det(21, 10.5, 900), _det(21, 10.5, 300)], 10.5)
    assert two[0][0] == after_gap and two[1][0] not in {after_gap, jump, ids[0]}
    assert len(tracker.tracks()) == 4


def test_pose_from_five_points() -> None:
    frontal = np.array([[70, 50], [60, 50], [30, 50], [40, 50], [50, 80]], dtype=np.float32)
    assert abs(pose(frontal)["yaw"]) < 1 and abs(pose(frontal)["roll"]) < 1
    turned = frontal.copy()
    turned[4] = [66, 80]
    assert abs(pose(turned)["yaw"]) > 30


def test_available_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "dlib" else real(name, *a))
    reason = FacesSignal.available()
    assert reason and "dlib" in reason and "consentry[faces]" in reason
