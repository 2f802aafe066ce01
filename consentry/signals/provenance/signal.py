"""The ``provenance`` signal: what the file says about its own origin.

JSON: ``provenance: {c2pa: {...}, watermark: {...}, metadata: {...}}`` (docs/signals.md).
Each part fails on its own: a broken manifest or odd metadata is recorded in that part's
``error`` and the other parts still run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consentry.signals.base import FrameConsumer, ItemContext, SampledFrame, Signal, SignalExample
from consentry.signals.provenance import c2pa_read, metadata, watermark
from consentry.signals.provenance import conditions as provenance_conditions
from consentry.types import Frame, SignalResult

log = logging.getLogger(__name__)


def _guarded(part: str, fn: Any, *args: Any) -> dict[str, Any]:
    try:
        return fn(*args)
    except Exception as exc:  # one malformed part must not cost the others
        log.debug("provenance %s failed", part, exc_info=True)
        return {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}


def _image_metadata(path: Path) -> dict[str, Any]:
    return metadata.summarise(*metadata.image_fields(path))


def _video_metadata(path: Path) -> dict[str, Any]:
    return metadata.summarise(metadata.video_fields(path), [])


@dataclass(frozen=True)
class ProvenanceFindings:
    """The signal's output: what each provenance check read (each a JSON object documented in
    docs/signals.md; a check that failed holds ``error`` instead of stopping the others)."""

    c2pa: dict[str, Any]
    watermark: dict[str, Any]
    metadata: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"provenance": {"c2pa": self.c2pa, "watermark": self.watermark,
                               "metadata": self.metadata}}


class ProvenanceSignal(Signal):
    name = "provenance"
    version = "1"
    description = "C2PA Content Credentials, dwtDct generator watermarks, metadata hints"
    full_resolution = True  # the watermark lives in fine detail
    conditions = provenance_conditions.CONDITIONS

    @classmethod
    def examples(cls) -> tuple[SignalExample, ...]:
        def plain(fields: dict[str, Any]) -> bool:
            prov = fields["provenance"]
            return (prov["c2pa"].get("validation_state") == "absent"
                    and not prov["watermark"].get("detected") and not prov["metadata"].get("ai_generated"))

        return (SignalExample("shapes.png", "image", plain), SignalExample("shapes.mp4", "video", plain))

    @classmethod
    def available(cls) -> str | None:
        try:
            import c2pa  # noqa: F401
            import cv2  # noqa: F401
        except ImportError as exc:
            return f"needs the provenance extra: pip install 'consentry[provenance]' ({exc.name})"
        return None

    def setup(self, settings: Any) -> None:
        self.context = c2pa_read.make_context()

    def _c2pa(self, path: Path) -> dict[str, Any]:
        return _guarded("c2pa", c2pa_read.read_c2pa, path, self.context)

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        mark = _guarded("watermark", lambda: watermark.detect(frame.rgb))
        return self.result(ProvenanceFindings(self._c2pa(ctx.path), mark,
                                              _guarded("metadata", _image_metadata, ctx.path)))

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        return _ProvenanceConsumer(self, ctx)


class _ProvenanceConsumer(FrameConsumer):
    """Container-level checks at ``finish``; the watermark is looked for on the first frame."""

    def __init__(self, signal: ProvenanceSignal, ctx: ItemContext) -> None:
        self.signal = signal
        self.ctx = ctx
        self.mark: dict[str, Any] = {"scheme": "dwtDct", "checked": False, "detected": False}

    def wants(self, index: int, timestamp: float) -> bool:
        return not self.mark["checked"] and "error" not in self.mark

    def add(self, frame: SampledFrame, shared: dict[str, Any]) -> None:
        self.mark = _guarded("watermark", watermark.detect, frame.rgb) | {"frame": frame.index}

    def finish(self) -> SignalResult:
        return self.signal.result(ProvenanceFindings(
            self.signal._c2pa(self.ctx.path), self.mark,
            _guarded("metadata", _video_metadata, self.ctx.path)))
