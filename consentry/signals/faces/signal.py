"""The ``faces`` signal: faces of images and of sampled video frames, joined into tracks.

Output: ``faces: [{track, frames, box, landmarks, size, sharpness, pose, matchable}]`` (for a
video, per track: the span of frames it covers and its best face's geometry). The payload
(``FacesPayload``) keeps the aligned crops of each track's few best faces for the likeness
matcher; descriptors are computed there, only when someone is enrolled, and never leave
memory.

Other signals that need the faces of a frame (``requires=("faces",)``) sample the same
frames with ``faces_sampler(ctx)`` and read ``shared["faces"]`` in their ``add``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from consentry.errors import SignalError
from consentry.settings import ScanSettings
from consentry.signals.base import (
    EveryNthFrame,
    FrameConsumer,
    ItemContext,
    SampledFrame,
    Signal,
    SignalExample,
)
from consentry.signals.conditions import Condition, Outcome, is_bool
from consentry.signals.face_types import FacesFound, FacesPayload, FaceTrack
from consentry.signals.faces import dlib_files
from consentry.signals.faces.finder import FaceFinder, FinderSettings
from consentry.signals.faces.tracking import Tracker
from consentry.signals.options import FacesOptions
from consentry.types import Frame, SignalResult

KEEP_BEST = 3  # faces per track kept for matching


def faces_fps(ctx: ItemContext) -> float:
    return float(ctx.settings.options_for(FacesOptions).faces_fps)


def faces_sampler(ctx: ItemContext) -> EveryNthFrame:
    """The frames the faces signal looks at (for signals that read ``shared["faces"]``)."""
    return EveryNthFrame(ctx.info.fps, faces_fps(ctx))


def _faces_found(want: bool, data: dict[str, Any]) -> Outcome:
    n = len(data.get("faces") or [])
    return Outcome((n > 0) == want, {"faces": n}, f"{n} face(s) found" if n else "no face found")


class FacesSignal(Signal):
    name = "faces"
    version = "2"  # 2: HOG on the grey picture (issue 17)
    Options = FacesOptions
    conditions = (Condition("faces", "faces", "faces", "true/false", is_bool, _faces_found),)
    description = "faces (dlib HOG + 5 landmarks), tracked across video frames, graded for matching"

    def __init__(self, settings: FinderSettings | None = None) -> None:
        self.finder_settings = settings or FinderSettings()
        self.finder: FaceFinder | None = None

    @classmethod
    def examples(cls) -> tuple[SignalExample, ...]:
        return (SignalExample("portrait.png", "face",
                              lambda f: len(f["faces"]) == 1 and f["faces"][0]["matchable"]),
                SignalExample("shapes.png", "image", lambda f: f["faces"] == []),
                SignalExample("shapes.mp4", "video", lambda f: f["faces"] == []))

    @classmethod
    def available(cls) -> str | None:
        return dlib_files.unavailable_reason()

    def setup(self, settings: ScanSettings) -> None:
        min_size = self.options(settings).min_face_size
        if min_size != self.finder_settings.gate.min_size:
            gate = replace(self.finder_settings.gate, min_size=float(min_size))
            self.finder_settings = replace(self.finder_settings, gate=gate)
        self.finder = FaceFinder(self.finder_settings)

    def _finder(self) -> FaceFinder:
        if self.finder is None:  # used without setup() (library use)
            self.finder = FaceFinder(self.finder_settings)
        return self.finder

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        coord_scale = ctx.info.width / frame.rgb.shape[1] if ctx.info.width else 1.0
        try:
            found = self._finder().find(frame.rgb, coord_scale=coord_scale)
        except RuntimeError as exc:  # dlib reports bad input this way
            raise SignalError(f"face detection failed: {exc}") from exc
        tracks = []
        for i, det in enumerate(found):
            if not det.matchable:
                det.chip = None
            tracks.append(FaceTrack(i, [det]))
        return self.result(FacesFound.of(tracks), FacesPayload(tracks))

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        return _FacesConsumer(self, ctx)


class _FacesConsumer(FrameConsumer):
    def __init__(self, signal: FacesSignal, ctx: ItemContext) -> None:
        self.signal = signal
        self.finder = signal._finder()
        self.sampler = faces_sampler(ctx)
        # A face must be allowed to miss a couple of samples, however sparse the sampling.
        self.tracker = Tracker(max_gap_s=max(1.5, 2.5 / faces_fps(ctx)), keep_best=KEEP_BEST)

    def wants(self, index: int, timestamp: float) -> bool:
        return self.sampler(index, timestamp)

    def add(self, frame: SampledFrame, shared: dict[str, Any]) -> None:
        small = frame.rgb_scaled(self.finder.settings.video_side)
        try:
            found = self.finder.find_scaled(small, lambda: frame.rgb, frame=frame.index,
                                            timestamp=frame.timestamp)
        except RuntimeError as exc:  # dlib reports bad input this way
            raise SignalError(f"face detection failed on frame {frame.index}: {exc}") from exc
        shared["faces"] = self.tracker.update(found, frame.timestamp)

    def finish(self) -> SignalResult:
        tracks = self.tracker.tracks()
        return self.signal.result(FacesFound.of(tracks), FacesPayload(tracks))
