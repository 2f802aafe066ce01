"""The ``hash`` signal: PDQ for images (and their 8 dihedral hashes), vPDQ for videos.

vPDQ follows Meta's definition: PDQ of each sampled frame at full resolution, with the frame
number, quality and timestamp (frame / fps); sampling keeps frames whose number is a multiple
of int(fps * seconds_per_hash), or every frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consentry.signals.base import EveryNthFrame, FrameConsumer, ItemContext, SampledFrame, Signal
from consentry.signals.hashing import pdq
from consentry.signals.options import HashOptions
from consentry.types import Frame, SignalResult


@dataclass(frozen=True)
class DihedralHash:
    transform: str  # one of pdq.DIHEDRAL_NAMES
    hash: str
    quality: int

    def as_json(self) -> dict[str, Any]:
        return {"transform": self.transform, "hash": self.hash, "quality": self.quality}


@dataclass(frozen=True)
class VideoFrameHash:
    frame: int
    quality: int
    hash: str
    timestamp: float

    def as_json(self) -> dict[str, Any]:
        return {"frame": self.frame, "quality": self.quality, "hash": self.hash,
                "timestamp": self.timestamp}


@dataclass(frozen=True)
class ImageHashes:
    """An image's PDQ and its 8 dihedral variants (original first); the JSON lists the
    variants only when asked (``--dihedral``); banks that match rotations read them here."""

    pdq: pdq.PdqHash
    dihedral: tuple[DihedralHash, ...]
    show_dihedral: bool = False
    # The hash of the pixels as stored in the file, when its EXIF orientation is not upright:
    # what python-threatexchange and HMA compute for it, so a bank of their hashes matches.
    # Not in the JSON (it is one of the dihedral hashes); the bank matcher reads it here.
    stored: DihedralHash | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pdq": {"hash": self.pdq.hex, "quality": self.pdq.quality}}
        if self.show_dihedral:
            out["pdq_dihedral"] = [d.as_json() for d in self.dihedral]
        return out


@dataclass(frozen=True)
class VideoHashes:
    """A video's vPDQ: one PDQ per sampled frame, in frame order."""

    frames: tuple[VideoFrameHash, ...]

    def as_json(self) -> dict[str, Any]:
        return {"vpdq": [f.as_json() for f in self.frames]}


class HashSignal(Signal):
    name = "hash"
    version = "1"
    description = "PDQ (images) and vPDQ (videos), Meta-compatible perceptual hashes"
    luma_only = True
    Options = HashOptions

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        luma = frame.luma if frame.luma is not None else pdq.luma_from_rgb(frame.rgb)
        # All 8 cost ~0.1 ms more than one (sign flips of one DCT), so they are always made:
        # banks that match rotations and flips read them from the output; --dihedral prints them.
        hashes = pdq.dihedral_from_luma(luma, frame.full_shape)
        dihedral = tuple(DihedralHash(name, h.hex, h.quality)
                         for name, h in zip(pdq.DIHEDRAL_NAMES, hashes, strict=True))
        stored = None
        if frame.exif_orientation != 1:
            stored = dihedral[pdq.DIHEDRAL_NAMES.index(pdq.STORED_VARIANT[frame.exif_orientation])]
        return self.result(ImageHashes(hashes[0], dihedral, self.options(ctx.settings).dihedral, stored))

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        return _VpdqConsumer(self, ctx)


class _VpdqConsumer(FrameConsumer):
    def __init__(self, signal: HashSignal, ctx: ItemContext) -> None:
        self.signal = signal
        self.sampler = EveryNthFrame(ctx.info.fps, HashSignal.options(ctx.settings).frames_per_second)
        self.frames: list[VideoFrameHash] = []

    def wants(self, index: int, timestamp: float) -> bool:
        return self.sampler(index, timestamp)

    def add(self, frame: SampledFrame, shared: dict[str, Any]) -> None:
        h = pdq.compute(frame.rgb)
        self.frames.append(VideoFrameHash(frame.index, h.quality, h.hex, round(frame.timestamp, 3)))

    def finish(self) -> SignalResult:
        return self.signal.result(VideoHashes(tuple(self.frames)))
