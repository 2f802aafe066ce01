"""One bank entry as plain data (``BankRecord``), with the validation every input path shares:
files, scans, submissions and the import formats all become records first.

Signal values are canonical strings, so that an export and a re-import give the same bytes:
- ``pdq``: 64 lowercase hex characters; ``md5``: 32; ``sha256``: 64.
- ``vpdq``: python-threatexchange's compact form, a JSON list of ``"pdq_hex,quality,timestamp"``
  strings (timestamp in seconds, 3 decimals), in frame order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SIGNALS = ("pdq", "vpdq", "md5", "sha256")
HEX_LENGTHS = {"pdq": 64, "md5": 32, "sha256": 64}
# Names other tools use for the same signals (python-threatexchange, HMA).
SIGNAL_ALIASES = {"video_md5": "md5", "photo_md5": "md5", "pdq_video": "vpdq"}


class RecordError(ValueError):
    """A bad field: ``field`` names it so the caller can say line and field."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name


@dataclass(frozen=True)
class VpdqFrame:
    hash: str
    quality: int
    timestamp: float


@dataclass
class BankRecord:
    signal: str
    value: str
    quality: int | None = None
    case_id: str | None = None
    external_id: str | None = None
    note: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    added_at: datetime | None = None

    @property
    def value_key(self) -> str:
        if self.signal == "vpdq":
            return hashlib.sha256(self.value.encode()).hexdigest()
        return self.value

    def frames(self) -> list[VpdqFrame]:
        return parse_vpdq(self.value) if self.signal == "vpdq" else []


def normalise_signal(name: str) -> str:
    key = name.strip().lower()
    key = SIGNAL_ALIASES.get(key, key)
    if key not in SIGNALS:
        raise RecordError("signal_type", f"unknown signal type {name!r} (known: {', '.join(SIGNALS)})")
    return key


def normalise_hex(signal: str, value: str, field_name: str = "signal_value") -> str:
    text = value.strip().lower()
    want = HEX_LENGTHS[signal]
    if len(text) != want:
        raise RecordError(field_name, f"a {signal} hash is {want} hex characters, got {len(text)}")
    try:
        bytes.fromhex(text)
    except ValueError:
        raise RecordError(field_name, f"not hexadecimal: {value[:80]!r}") from None
    return text


def parse_vpdq(value: str, field_name: str = "signal_value") -> list[VpdqFrame]:
    try:
        items = json.loads(value)
    except json.JSONDecodeError as exc:
        raise RecordError(field_name, f"vpdq value is not a JSON list: {exc.msg}") from None
    if not isinstance(items, list) or not items:
        raise RecordError(field_name, "vpdq value must be a non-empty JSON list of frames")
    frames = []
    for n, item in enumerate(items):
        parts = item.split(",") if isinstance(item, str) else []
        if len(parts) != 3:
            raise RecordError(field_name, f"vpdq frame {n} is not 'pdq_hex,quality,timestamp'")
        try:
            quality, timestamp = int(parts[1]), float(parts[2])
        except ValueError:
            raise RecordError(field_name, f"vpdq frame {n}: quality or timestamp is not a number") from None
        if not 0 <= quality <= 100:
            raise RecordError(field_name, f"vpdq frame {n}: quality {quality} is not 0-100")
        frames.append(VpdqFrame(normalise_hex("pdq", parts[0], field_name), quality, timestamp))
    return frames


def vpdq_value(frames: list[dict[str, Any]] | list[VpdqFrame]) -> str:
    """Canonical vPDQ string from frames (dicts with hash/quality/timestamp, or VpdqFrame)."""
    out = []
    for f in frames:
        h, q, t = (f.hash, f.quality, f.timestamp) if isinstance(f, VpdqFrame) else (
            f["hash"], f["quality"], f["timestamp"])
        out.append(f"{h},{int(q)},{float(t):.3f}")
    return json.dumps(out, separators=(",", ":"))


def make_record(signal: str, value: str, *, quality: Any = None, **meta: Any) -> BankRecord:
    """Validate and canonicalise one entry (raises RecordError naming the bad field)."""
    signal = normalise_signal(signal)
    canonical = vpdq_value(parse_vpdq(value.strip())) if signal == "vpdq" else normalise_hex(signal, value)
    q: int | None = None
    if quality not in (None, ""):
        try:
            q = int(quality)
        except (TypeError, ValueError):
            raise RecordError("quality", f"quality {quality!r} is not a whole number") from None
        if not 0 <= q <= 100:
            raise RecordError("quality", f"quality {q} is not between 0 and 100")
    attributes = meta.pop("attributes", None) or {}
    if not isinstance(attributes, dict):
        raise RecordError("metadata", "metadata must be a JSON object")
    clean = {k: (str(v) if v not in (None, "") else None) for k, v in meta.items() if k != "added_at"}
    added_at = meta.get("added_at")
    if isinstance(added_at, str) and added_at:
        try:
            added_at = datetime.fromisoformat(added_at)
        except ValueError:
            raise RecordError("added_at", f"not an ISO 8601 time: {added_at!r}") from None
    return BankRecord(signal, canonical, q, clean.get("case_id"), clean.get("external_id"),
                      clean.get("note"), attributes, added_at or None)
