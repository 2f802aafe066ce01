"""Plain data that flows through the pipeline: media in, signal results, item reports out."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


class ItemStatus(StrEnum):
    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True)
class MediaInfo:
    """What the container says about an item (filled in by media.probe)."""

    kind: MediaKind
    container: str
    codec: str | None
    width: int
    height: int
    duration: float | None = None
    fps: float | None = None
    frame_count: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "duration": self.duration,
            "fps": self.fps,
            "frame_count": self.frame_count,
        }


@dataclass(frozen=True)
class Frame:
    """One decoded still image, as HxWx3 uint8 RGB, or as an HxW uint8 luma (Y) plane alone
    when every signal that runs reads only brightness (``Signal.luma_only``)."""

    index: int
    timestamp: float
    decoded_rgb: np.ndarray | None
    luma: np.ndarray | None = None
    # (rows, cols) of the full-size image when the pixels are a reduced-scale decode
    full_shape: tuple[int, int] | None = None

    @property
    def rgb(self) -> np.ndarray:
        if self.decoded_rgb is None:
            raise RuntimeError("this image was decoded as luma only; the signal must not be luma_only")
        return self.decoded_rgb


@dataclass
class SignalResult:
    """What one signal found on one item.

    ``fields`` is merged into the item's JSON object (documented in docs/json-schema.md);
    ``payload`` holds typed data for later stages (e.g. face tracks for the likeness matcher)
    and is never serialised.
    """

    signal: str
    version: str
    fields: dict[str, Any] = field(default_factory=dict)
    payload: Any = None


@dataclass
class ItemReport:
    """Everything the pipeline learned about one input path."""

    path: Path
    status: ItemStatus = ItemStatus.OK
    kind: MediaKind | None = None
    error: str | None = None
    error_code: str | None = None
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None
    info: MediaInfo | None = None
    results: dict[str, SignalResult] = field(default_factory=dict)
    signal_errors: dict[str, str] = field(default_factory=dict)
    # Filled by the match and policy stages.
    fields: dict[str, Any] = field(default_factory=dict)
    flagged: bool = False
    thumbnail_jpeg: bytes | None = None
    item_id: int | None = None

    def fail(self, code: str, reason: str) -> None:
        self.status = ItemStatus.ERROR
        self.error_code = code
        self.error = reason

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": str(self.path),
            "kind": self.kind.value if self.kind else None,
            "status": self.status.value,
            "error": self.error,
            "error_code": self.error_code,
            "size": self.size,
            "md5": self.md5,
            "sha256": self.sha256,
            "media": self.info.as_json() if self.info else None,
        }
        for result in self.results.values():
            out.update(result.fields)
        out.update(self.fields)
        if self.signal_errors:
            out["signal_errors"] = dict(self.signal_errors)
        out["flagged"] = self.flagged
        if self.item_id is not None:
            out["item_id"] = self.item_id
        return out
