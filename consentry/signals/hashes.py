"""The ``hash`` signal: PDQ for images (and their 8 dihedral hashes), vPDQ for videos.

vPDQ follows Meta's definition: PDQ of each sampled frame at full resolution, with the frame
number, quality and timestamp (frame / fps); sampling keeps frames whose number is a multiple
of int(fps * seconds_per_hash), or every frame.
"""

from __future__ import annotations

from typing import Any

from consentry.signals.base import EveryNthFrame, FrameConsumer, ItemContext, SampledFrame, Signal
from consentry.signals.hashing import pdq
from consentry.types import Frame, SignalResult


class HashSignal(Signal):
    name = "hash"
    version = "1"
    description = "PDQ (images) and vPDQ (videos), Meta-compatible perceptual hashes"
    luma_only = True

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        luma = frame.luma if frame.luma is not None else pdq.luma_from_rgb(frame.rgb)
        # All 8 cost ~0.1 ms more than one (sign flips of one DCT), so they are always made:
        # banks that match rotations and flips read them from the payload; --dihedral prints them.
        hashes = pdq.dihedral_from_luma(luma, frame.full_shape)
        dihedral = [{"transform": name, "hash": h.hex, "quality": h.quality}
                    for name, h in zip(pdq.DIHEDRAL_NAMES, hashes, strict=True)]
        fields: dict[str, Any] = {"pdq": {"hash": hashes[0].hex, "quality": hashes[0].quality}}
        if ctx.settings.dihedral:
            fields["pdq_dihedral"] = dihedral
        return self.result(fields, payload={"pdq_dihedral": dihedral})

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        return _VpdqConsumer(self, ctx)


class _VpdqConsumer(FrameConsumer):
    def __init__(self, signal: HashSignal, ctx: ItemContext) -> None:
        self.signal = signal
        self.sampler = EveryNthFrame(ctx.info.fps, ctx.settings.video_fps)
        self.frames: list[dict[str, Any]] = []

    def wants(self, index: int, timestamp: float) -> bool:
        return self.sampler(index, timestamp)

    def add(self, frame: SampledFrame, shared: dict[str, Any]) -> None:
        h = pdq.compute(frame.rgb)
        self.frames.append(
            {"frame": frame.index, "quality": h.quality, "hash": h.hex,
             "timestamp": round(frame.timestamp, 3)}
        )

    def finish(self) -> SignalResult:
        return self.signal.result({"vpdq": self.frames})
