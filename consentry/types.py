"""Plain data that flows through the pipeline: media in, signal results, item reports out."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from consentry.names import path_json


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
    # The file's EXIF orientation (1 = upright): the pixels have it applied already; the hash
    # signal also keeps the hash of the stored orientation, which pytx and HMA compute.
    exif_orientation: int = 1

    @property
    def rgb(self) -> np.ndarray:
        if self.decoded_rgb is None:
            raise RuntimeError("this image was decoded as luma only; the signal must not be luma_only")
        return self.decoded_rgb


class SignalOutput(Protocol):
    """What one signal found on one item: a frozen dataclass whose JSON is derived from it.
    ``as_json`` gives the top-level fields it adds to the item's JSON (docs/json-schema.md)."""

    def as_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class JsonOutput:
    """An output that is already its JSON (for signals whose findings are plain data)."""

    data: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return self.data


@dataclass(frozen=True)
class SignalResult:
    """One signal's result on one item: its typed ``output`` (serialised into the item's JSON)
    and a ``payload`` of data for later stages (e.g. face tracks for the likeness matcher)
    that is never serialised."""

    signal: str
    version: str
    output: SignalOutput | dict[str, Any] = field(default_factory=dict)
    payload: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.output, dict):  # plain JSON fields (tests, simple signals)
            object.__setattr__(self, "output", JsonOutput(self.output))

    @cached_property
    def fields(self) -> dict[str, Any]:
        return self.output.as_json()


@dataclass(frozen=True)
class Match:
    """One item matching one hash-bank entry."""

    bank: str
    kind: str  # the bank's kind: ncii, deepfake, other, allow
    signal: str  # the hash type that matched
    hash: str  # the item's hash (or, for vPDQ, the entry's key)
    distance: int
    entry_id: int
    case_id: str | None = None
    transform: str | None = None  # the dihedral transform of the item's hash, if not the original
    details: tuple[tuple[str, Any], ...] = ()  # e.g. vPDQ match percentages

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bank": self.bank, "kind": self.kind, "signal": self.signal,
                               "hash": self.hash, "distance": self.distance,
                               "entry_id": self.entry_id, "case_id": self.case_id}
        if self.transform:
            out["transform"] = self.transform
        out.update(self.details)
        return out


@dataclass(frozen=True)
class Reason:
    """Why a rule fired: its code and action, a sentence for people, the evidence it read."""

    code: str
    action: str
    priority: str | None
    label: str | None
    message: str
    evidence: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "action": self.action, "priority": self.priority,
                "label": self.label, "message": self.message, "evidence": self.evidence}


@dataclass(frozen=True)
class Verdict:
    """The policy's decision on one item (docs/policy.md)."""

    action: str  # block | review | label | allow
    priority: str | None
    labels: tuple[str, ...]
    reasons: tuple[Reason, ...]
    overridden: tuple[tuple[str, str], ...]  # (rule, the rule that overrode it)
    missing_signals: tuple[str, ...]
    policy: str  # name@sha256-prefix of the exact policy file
    # (signal, why) the policy's cascade skipped on this item; None: the policy has no cascade
    # (the field is then left out of the JSON, as before cascades existed)
    skipped: tuple[tuple[str, str], ...] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action, "priority": self.priority, "labels": list(self.labels),
            "reasons": [r.as_json() for r in self.reasons],
            "overridden": [{"code": c, "by": by} for c, by in self.overridden],
            "missing_signals": list(self.missing_signals), "policy": self.policy}
        if self.skipped is not None:
            out["skipped_signals"] = [{"signal": s, "reason": why} for s, why in self.skipped]
        return out


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
    # signal (or matcher) -> why the policy's cascade skipped it on this item
    skipped: dict[str, str] = field(default_factory=dict)
    # Filled by the match and policy stages: matchers add their JSON fields, the policy its verdict.
    fields: dict[str, Any] = field(default_factory=dict)
    verdict: Verdict | None = None
    decided: bool = False  # the policy ran (an unreadable item gets no verdict, not "allow")
    flagged: bool = False
    thumbnail_jpeg: bytes | None = None
    item_id: int | None = None
    scan_id: int | None = None
    # --skip-known: the stored item this identical file was analysed as, with the same signal
    # versions; ``reused`` is that item's stored JSON, which this item then repeats
    known_item_id: int | None = None
    reused: dict[str, Any] | None = None

    def fail(self, code: str, reason: str) -> None:
        self.status = ItemStatus.ERROR
        self.error_code = code
        self.error = reason

    def findings(self) -> dict[str, Any]:
        """Every signal's and matcher's JSON fields, merged: what policies and sinks read."""
        data: dict[str, Any] = {}
        for result in self.results.values():
            data.update(result.fields)
        data.update(self.fields)
        return data

    @property
    def signal_versions(self) -> dict[str, str]:
        return {name: result.version for name, result in self.results.items()}

    def as_json(self) -> dict[str, Any]:
        if self.reused is not None:
            return self._reused_json()
        out: dict[str, Any] = {
            **path_json(self.path),  # path, and path_bytes when not UTF-8
            "kind": self.kind.value if self.kind else None,
            "status": self.status.value,
            "error": self.error,
            "error_code": self.error_code,
            "size": self.size,
            "md5": self.md5,
            "sha256": self.sha256,
            "media": self.info.as_json() if self.info else None,
        }
        out.update(self.findings())
        if self.decided:
            out["verdict"] = self.verdict.as_json() if self.verdict else None
        if self.results:
            out["signal_versions"] = self.signal_versions
        if self.signal_errors:
            out["signal_errors"] = dict(self.signal_errors)
        out["flagged"] = self.flagged
        if self.item_id is not None:
            out["item_id"] = self.item_id
        if self.scan_id is not None:
            out["scan_id"] = self.scan_id
        return out

    def _reused_json(self) -> dict[str, Any]:
        assert self.reused is not None
        out = {k: v for k, v in self.reused.items()
               if k not in ("path", "path_bytes", "item_id", "scan_id", "known_item_id")}
        out.update(path_json(self.path))
        out["known_item_id"] = self.known_item_id
        if self.item_id is not None:
            out["item_id"] = self.item_id
        if self.scan_id is not None:
            out["scan_id"] = self.scan_id
        return out


@dataclass
class ScanSummary:
    """What one scan did, as counts; ``exit_code`` is the CLI's (README: exit codes)."""

    scan_id: int
    n_items: int = 0
    n_errors: int = 0
    n_flagged: int = 0
    n_known: int = 0  # --skip-known: identical files whose earlier result was repeated
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.n_flagged:
            return 1
        return 3 if self.n_errors else 0
