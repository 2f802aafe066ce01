"""The signal interface every plugin implements.

A signal looks at one decoded item and returns a ``SignalResult``. Images arrive as one
``Frame``; videos arrive as a stream of frames pushed into a ``FrameConsumer``, so a video
is decoded once and each signal sees only the frames it samples.

Contract:
- ``name`` is the stable key (CLI ``--signals``, JSON, store); ``version`` changes whenever
  the output would change, so stored results can be recomputed.
- ``setup()`` loads models once per process; ``compute_image`` / ``video_consumer`` must
  not load anything.
- Failures raise ``SignalError`` (never return a sentinel); the pipeline records the error
  for this signal and item and goes on.
- ``requires`` names signals that must run first: their results are in ``ctx.results``
  (images, and at ``finish`` for videos) and their per-frame output in the ``shared`` dict
  passed to ``FrameConsumer.add`` (videos).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from consentry.settings import ScanSettings
from consentry.signals.conditions import Condition
from consentry.signals.options import NoOptions
from consentry.types import Frame, MediaInfo, MediaKind, SignalOutput, SignalResult


@dataclass
class ItemContext:
    path: Path
    info: MediaInfo
    settings: ScanSettings
    results: dict[str, SignalResult] = field(default_factory=dict)


@dataclass(frozen=True)
class SignalExample:
    """An example for the conformance kit: a sample the kit makes with its own code
    (``media``: "image" synthetic shapes, "video" a short clip of them, "face" a real portrait
    photo), and ``expect``, a check on the signal's JSON fields (None: any valid output)."""

    name: str
    media: str
    expect: Callable[[dict[str, Any]], bool] | None = None


class SampledFrame(Protocol):
    """What a video consumer receives (``consentry.media.video.VideoFrame``)."""

    index: int
    timestamp: float

    @property
    def rgb(self) -> Any: ...

    def rgb_scaled(self, max_side: int) -> Any: ...


class FrameConsumer(ABC):
    """Receives the sampled frames of one video, then produces the signal's result."""

    @abstractmethod
    def wants(self, index: int, timestamp: float) -> bool:
        """Whether this frame is one this signal samples (decided before RGB conversion)."""

    @abstractmethod
    def add(self, frame: SampledFrame, shared: dict[str, Any]) -> None: ...

    @abstractmethod
    def finish(self) -> SignalResult: ...


class Signal(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    requires: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    # True when the signal reads fine pixel detail (e.g. a watermark): big JPEGs are then
    # decoded at full size instead of the reduced scale that is enough for hashing.
    full_resolution: ClassVar[bool] = False
    # True when the signal reads only brightness on images (``Frame.luma``): when every
    # signal that runs says so, a JPEG is decoded to its Y plane alone, skipping colour.
    luma_only: ClassVar[bool] = False
    # The signal's options dataclass (consentry.signals.options); the CLI derives flags from it.
    Options: ClassVar[type] = NoOptions
    # The policy conditions this signal offers on its own JSON (consentry.signals.conditions).
    conditions: ClassVar[tuple[Condition, ...]] = ()

    @classmethod
    def options(cls, settings: ScanSettings) -> Any:
        """This signal's options in ``settings`` (its defaults when they were not given)."""
        return settings.options_for(cls.Options)

    @classmethod
    def examples(cls) -> tuple[SignalExample, ...]:
        """Media this signal must handle, with what its JSON must then say: the conformance
        kit (consentry.testing.signal_kit) runs every signal on its own examples."""
        return (SignalExample("shapes.png", "image"), SignalExample("shapes.mp4", "video"))

    @classmethod
    def available(cls) -> str | None:
        """None when the signal can run here, else why not (e.g. a missing extra)."""
        return None

    def setup(self, settings: ScanSettings) -> None:  # noqa: B027 - optional hook
        """Load models; called once per process before any item."""

    @abstractmethod
    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult: ...

    @abstractmethod
    def video_consumer(self, ctx: ItemContext) -> FrameConsumer: ...

    def result(self, output: SignalOutput | dict[str, Any], payload: Any = None) -> SignalResult:
        return SignalResult(self.name, self.version, output, payload)


class EveryNthFrame:
    """Sampling by frame number: Meta's vPDQ rule (``frame % int(fps * seconds) == 0``)."""

    def __init__(self, fps: float | None, per_second: float | None) -> None:
        if per_second is None or not fps:
            self.step = 1
        else:
            self.step = max(1, int(fps / per_second))

    def __call__(self, index: int, timestamp: float) -> bool:
        return index % self.step == 0
