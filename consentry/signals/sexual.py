"""The ``sexual`` signal: body-region detections and an item-level sexual-content score.

The detector is NudeNet's bundled ONNX model (``consentry.signals.nudenet_model``, AGPL-3.0,
optional extra ``consentry[nudity]``); anything that yields labelled boxes with confidences can
replace it behind this signal.

Score rule (documented in docs/signals.md):
- each detection is weighted by its class: exposed genitalia, anus, female breast or buttocks
  weigh 1.0 ("explicit"); the same regions covered weigh 0.4 ("suggestive", e.g. swimwear);
  every other class (faces, feet, belly, armpits, male chest) weighs 0;
- a frame's score is the largest weight x confidence among its detections;
- the item's score is the largest frame score (a video is as sexual as its most sexual sampled
  frame: one explicit second is enough for a reviewer to look), rounded to 4 places.
So covered regions alone never score above 0.4, below the default policy's threshold (0.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consentry.errors import SignalError
from consentry.signals.base import (
    EveryNthFrame,
    FrameConsumer,
    ItemContext,
    SampledFrame,
    Signal,
    SignalExample,
)
from consentry.signals.conditions import Condition, is_score, score_at_least
from consentry.signals.nudenet_model import BodyRegionDetector, Detection, model_path
from consentry.signals.options import SexualOptions
from consentry.types import Frame, SignalResult

EXPLICIT = frozenset({"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED",
                      "FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED"})
SUGGESTIVE = frozenset({"FEMALE_GENITALIA_COVERED", "ANUS_COVERED", "FEMALE_BREAST_COVERED",
                        "BUTTOCKS_COVERED"})
SUGGESTIVE_WEIGHT = 0.4
NOT_REPORTED = frozenset({"FACE_FEMALE", "FACE_MALE"})  # faces are the faces signal's job
MAX_REGIONS = 50
VIDEO_MAX_SIDE = 640  # frames are scaled down before the 320 px model anyway
MODEL_ID = "nudenet-3.4-320n"


def weight(label: str) -> float:
    if label in EXPLICIT:
        return 1.0
    return SUGGESTIVE_WEIGHT if label in SUGGESTIVE else 0.0


def frame_score(detections: list[Detection]) -> float:
    return max((weight(d.label) * d.confidence for d in detections), default=0.0)


@dataclass(frozen=True)
class BodyRegion:
    """One detected body region (a label, never pixels), where it was seen in a video."""

    label: str
    confidence: float
    box: tuple[float, ...]
    frame: int | None = None
    timestamp: float | None = None

    @property
    def weight(self) -> float:
        return weight(self.label)

    def as_json(self) -> dict[str, Any]:
        out = {"label": self.label, "exposed": self.label.endswith("_EXPOSED"),
               "confidence": self.confidence, "weight": self.weight, "box": list(self.box)}
        if self.frame is not None:
            out |= {"frame": self.frame, "timestamp": self.timestamp}
        return out


def region(d: Detection, scale: float = 1.0, frame: int | None = None,
           timestamp: float | None = None) -> BodyRegion:
    return BodyRegion(d.label, round(d.confidence, 4), tuple(round(v * scale, 1) for v in d.box),
                      frame, timestamp)


@dataclass(frozen=True)
class SexualFindings:
    """The signal's output: the item's score and its strongest regions (at most MAX_REGIONS)."""

    score: float
    regions: tuple[BodyRegion, ...]
    n_regions: int
    frames_scored: int | None = None  # videos
    top_frame: tuple[tuple[str, Any], ...] | None = None  # videos: the highest-scoring frame

    @classmethod
    def of(cls, regions: list[BodyRegion], score: float, frames_scored: int | None = None,
           top_frame: dict[str, Any] | None = None) -> SexualFindings:
        ranked = sorted(regions, key=lambda r: (-r.weight * r.confidence, -r.confidence))
        return cls(round(score, 4), tuple(ranked[:MAX_REGIONS]), len(regions), frames_scored,
                   tuple(top_frame.items()) if top_frame is not None else None)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"score": self.score, "regions": [r.as_json() for r in self.regions],
                               "n_regions": self.n_regions, "model": MODEL_ID}
        if self.frames_scored is not None:
            out |= {"frames_scored": self.frames_scored,
                    "top_frame": dict(self.top_frame) if self.top_frame is not None else None}
        return {"sexual": out}


class SexualSignal(Signal):
    name = "sexual"
    Options = SexualOptions
    conditions = (Condition("sexual", "sexual", "sexual", "score threshold in (0, 1]", is_score,
                            score_at_least("sexual", "sexual-content")),)
    version = "1"
    description = "sexual-content score from body-region detection (NudeNet ONNX, AGPL extra)"

    @classmethod
    def examples(cls) -> tuple[SignalExample, ...]:
        # Neutral media only: nothing here may be sexual imagery (see DEVELOPERS.md).
        return (SignalExample("shapes.png", "image", lambda f: f["sexual"]["score"] < 0.2),
                SignalExample("portrait.png", "face", lambda f: f["sexual"]["score"] < 0.2),
                SignalExample("shapes.mp4", "video",
                              lambda f: f["sexual"]["frames_scored"] >= 1 and f["sexual"]["score"] < 0.2))

    @classmethod
    def available(cls) -> str | None:
        if model_path() is None:
            return "needs the nudity extra: pip install 'consentry[nudity]' (NudeNet, AGPL-3.0)"
        return None

    def setup(self, settings: Any) -> None:
        path = model_path()
        if path is None:
            raise SignalError(self.available() or "NudeNet model missing")
        self.detector = BodyRegionDetector(path)

    def detect(self, rgb: Any) -> list[Detection]:
        try:
            return self.detector.detect(rgb)
        except Exception as exc:  # onnxruntime / OpenCV errors on odd input
            raise SignalError(f"body-region detector failed: {exc}") from exc

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        detections = self.detect(frame.rgb)
        regions = [region(d) for d in detections if d.label not in NOT_REPORTED]
        return self.result(SexualFindings.of(regions, frame_score(detections)))

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        return _SexualConsumer(self, ctx)


class _SexualConsumer(FrameConsumer):
    def __init__(self, signal: SexualSignal, ctx: ItemContext) -> None:
        self.signal = signal
        self.width = ctx.info.width
        self.sampler = EveryNthFrame(ctx.info.fps, SexualSignal.options(ctx.settings).sexual_fps)
        self.regions: list[BodyRegion] = []
        self.score = 0.0
        self.frames = 0
        self.top: dict[str, Any] | None = None

    def wants(self, index: int, timestamp: float) -> bool:
        return self.sampler(index, timestamp)

    def add(self, frame: SampledFrame, shared: dict[str, Any]) -> None:
        rgb = frame.rgb_scaled(VIDEO_MAX_SIDE)
        scale = self.width / rgb.shape[1] if rgb.shape[1] else 1.0
        detections = self.signal.detect(rgb)
        self.frames += 1
        where = {"frame": frame.index, "timestamp": round(frame.timestamp, 3)}
        self.regions += [region(d, scale, **where) for d in detections
                         if d.label not in NOT_REPORTED]
        score = frame_score(detections)
        if score > self.score or self.top is None:
            self.score = max(score, self.score)
            self.top = where | {"score": round(score, 4)}

    def finish(self) -> SignalResult:
        return self.signal.result(SexualFindings.of(self.regions, self.score, self.frames, self.top))
