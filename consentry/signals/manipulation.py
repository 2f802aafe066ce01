"""The ``manipulation`` signal: how likely each face track is to be swapped or blended in.

Reads the faces signal (``requires = ("faces",)``): for images its ``FacesPayload``, for videos
``shared["faces"]`` on the frames the faces signal samples. Each face is cut as in training
(consentry.detector.scoring.face_crop) and scored by the shipped ONNX model; faces much
smaller than the largest face in the frame are ignored. A track's score aggregates its frames
(the rule chosen on validation, stored beside the model); the item's score is the maximum
over tracks. An image whose one face fills it, or a small square-ish image (long side <= 512
px, aspect 0.7-1.4) in which no face is found - a pre-cropped face - is scored whole as one
face crop (track 0); any other image without a face gets ``score: null`` (nothing to judge:
scoring a landscape as a "face" would only make false alarms).

JSON: ``manipulation: {score, threshold, tracks: [{track, score, timeline: [[t, score], ...]}]}``.
The payload also keeps the unrounded per-frame scores and whether the image was scored whole,
so ``consentry eval detector`` and the detector's calibration read the scan's own result
(``ManipulationSignal.using`` swaps in another model for them).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from consentry.errors import SignalError
from consentry.signals.base import FrameConsumer, ItemContext, SampledFrame, Signal, SignalExample
from consentry.signals.conditions import CALIBRATED, Condition, is_score_or_calibrated, score_at_least
from consentry.types import Frame, SignalResult


@dataclass(frozen=True)
class TrackScore:
    track: int
    score: float  # the track's frames aggregated by the rule stored beside the model
    timeline: tuple[tuple[float, float], ...]  # (seconds, score) of each scored frame


@dataclass(frozen=True)
class ManipulationScores:
    """The signal's output: a score per face track; the item's is the highest (None: no face
    to judge). ``threshold`` is the model's calibrated operating point."""

    tracks: tuple[TrackScore, ...]
    threshold: float

    @property
    def score(self) -> float | None:
        return max((t.score for t in self.tracks), default=None)

    def as_json(self) -> dict[str, Any]:
        score = self.score
        return {"manipulation": {
            "score": score, "threshold": self.threshold,
            "flagged": bool(score is not None and score >= self.threshold),
            "tracks": [{"track": t.track, "score": t.score, "timeline": [list(p) for p in t.timeline]}
                       for t in self.tracks]}}


@dataclass
class ManipulationPayload:
    """Kept in memory for the HTML report (the most suspicious face and where the model looked;
    only when thumbnails are asked for) and for evaluation (the unrounded per-frame scores)."""

    worst_crop_jpeg: bytes | None = None
    heatmap: np.ndarray | None = None
    worst: dict[str, Any] = field(default_factory=dict)
    timelines: dict[int, list[tuple[float, float]]] = field(default_factory=dict)  # track -> [(t, score)]
    scored_whole: bool = False  # an image scored as one pre-cropped face


def _jpeg(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


FACE_CROP_MAX_SIDE = 512


def _could_be_face_crop(ctx: ItemContext) -> bool:
    w, h = ctx.info.width, ctx.info.height
    return 0 < max(w, h) <= FACE_CROP_MAX_SIDE and 0.7 <= w / max(h, 1) <= 1.4


class ManipulationSignal(Signal):
    name = "manipulation"
    # 6: model 4 at the sixth attempt's threshold (0.87255); 5: model 4 at 0.85935 (eight view
    # sets, mirror averaging, median); 4: model 3; 3: model 2
    version = "6"
    requires = ("faces",)
    conditions = (Condition(
        "manipulation", "manipulation", "manipulation",
        f'score threshold in (0, 1], or "{CALIBRATED}" (the model\'s operating point)',
        is_score_or_calibrated, score_at_least("manipulation", "face-manipulation")),)
    description = "face manipulation (EfficientNet-Lite0, labelled fakes + self-blends, ONNX) per face track"
    model: ClassVar[Path | None] = None  # None: the shipped model
    flip: ClassVar[bool | None] = None  # None: as stored beside the model

    def __init__(self) -> None:
        self.scorer = None

    @classmethod
    def using(cls, model: Path | None = None, flip: bool | None = None) -> type[ManipulationSignal]:
        """This signal with another model (``eval detector --model``, calibrating a new model):
        the same crops, sampling and aggregation as a scan, only the weights differ."""
        return type(cls.__name__, (cls,), {"model": model, "flip": flip})

    @classmethod
    def examples(cls) -> tuple[SignalExample, ...]:
        def scored(fields: dict[str, Any]) -> bool:
            found = fields["manipulation"]
            score = found["score"]
            return isinstance(score, float) and 0 <= score <= 1 and len(found["tracks"]) == 1

        # A real portrait (not manipulated): scored, one track; shapes: no face, no score.
        return (SignalExample("portrait.png", "face", scored),
                SignalExample("shapes.png", "image", lambda f: f["manipulation"]["score"] is None),
                SignalExample("shapes.mp4", "video", lambda f: f["manipulation"]["tracks"] == []))

    @classmethod
    def available(cls) -> str | None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return "onnxruntime missing (install the 'detector' extra)"
        from consentry.detector.scoring import model_path

        try:
            model_path()
        except FileNotFoundError as exc:
            return str(exc)
        return None

    def setup(self, settings: Any) -> None:
        # One onnxruntime thread in a worker process (the pool runs one worker per core: two
        # threads each would only fight over the cores); two when analysing in this process.
        import multiprocessing

        from consentry.detector.scoring import Scorer

        threads = 1 if multiprocessing.parent_process() is not None else 2
        self.scorer = Scorer(self.model, threads=threads)
        if self.flip is not None:
            self.scorer.info.flip = self.flip

    def _scorer(self):
        if self.scorer is None:
            self.setup(None)
        return self.scorer

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        from consentry.detector.scoring import face_crop, is_face_crop, keep_large

        faces = ctx.results.get("faces")
        if faces is None:
            raise SignalError("manipulation needs the faces signal's result")
        dets = keep_large([t.detections[0] for t in faces.payload.tracks if t.detections])
        # faces reports landmarks in the original image's pixels; frame.rgb may be scaled down
        scale = frame.rgb.shape[1] / ctx.info.width if ctx.info.width else 1.0
        tracks = [t.track for t in faces.payload.tracks if t.detections and t.detections[0] in dets]
        lms = [np.asarray(d.landmarks, np.float64) * scale for d in dets]
        if not lms and not _could_be_face_crop(ctx):
            return self._result({}, None, 0.0, 0, ctx)
        whole = not lms or (len(lms) == 1 and is_face_crop(frame.rgb.shape, lms[0]))
        if whole:
            crops, tracks = [frame.rgb], [0]
        else:
            crops = [face_crop(frame.rgb, lm) for lm in lms]
        scores = self._scorer().score(crops)
        timelines = {t: [(0.0, float(s))] for t, s in zip(tracks, scores, strict=True)}
        best = int(np.argmax(scores))
        return self._result(timelines, crops[best], 0.0, tracks[best], ctx, scored_whole=whole)

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        return _ManipulationConsumer(self, ctx)

    def _result(self, timelines: dict[int, list[tuple[float, float]]], worst_crop: np.ndarray | None,
                worst_t: float, worst_track: int, ctx: ItemContext,
                scored_whole: bool = False) -> SignalResult:
        from consentry.detector.scoring import track_score

        info = self._scorer().info
        tracks = tuple(TrackScore(int(t), track_score([s for _, s in tl], info.aggregation, info.top_k),
                                  tuple((round(ts, 3), round(s, 4)) for ts, s in tl))
                       for t, tl in sorted(timelines.items()))
        payload = ManipulationPayload(timelines=timelines, scored_whole=scored_whole)
        if worst_crop is not None and getattr(ctx.settings, "thumbnails", False):
            # only when a report is asked for: the crop never leaves memory otherwise
            payload.worst_crop_jpeg = _jpeg(worst_crop)
            payload.heatmap = self._scorer().occlusion_map(worst_crop)
            payload.worst = {"track": worst_track, "t": worst_t}
        return self.result(ManipulationScores(tracks, info.threshold), payload)


class _ManipulationConsumer(FrameConsumer):
    def __init__(self, signal: ManipulationSignal, ctx: ItemContext) -> None:
        from consentry.signals.faces.signal import faces_sampler

        self.signal, self.ctx = signal, ctx
        self.sampler = faces_sampler(ctx)  # the same frames the faces signal looks at
        self.timelines: dict[int, list[tuple[float, float]]] = {}
        self.worst: tuple[float, np.ndarray | None, float, int] = (-1.0, None, 0.0, 0)

    def wants(self, index: int, timestamp: float) -> bool:
        return self.sampler(index, timestamp)

    def add(self, frame: SampledFrame, shared: dict[str, Any]) -> None:
        from consentry.detector.scoring import face_crop, keep_large

        faces = shared.get("faces") or []
        kept = keep_large(faces, width=lambda f: f[1].size)
        if not kept:
            return
        rgb = frame.rgb
        crops = [face_crop(rgb, np.asarray(det.landmarks, np.float64)) for _, det in kept]
        scores = self.signal._scorer().score(crops)
        for (track, _), crop, s in zip(kept, crops, scores, strict=True):
            self.timelines.setdefault(int(track), []).append((float(frame.timestamp), float(s)))
            if s > self.worst[0]:
                self.worst = (float(s), crop, float(frame.timestamp), int(track))

    def finish(self) -> SignalResult:
        _, crop, t, track = self.worst
        return self.signal._result(self.timelines, crop, t, track, self.ctx)
