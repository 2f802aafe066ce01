"""vPDQ, Meta's video hash: the PDQ of sampled frames (``vpdq`` in python-threatexchange).

Canonical value: pytx's compact serialisation, a JSON list of ``"pdq_hex,quality,seconds"``
strings in frame order, written without spaces and with 3 decimals (pytx writes ``", "`` and
3 significant digits; both read back the same frames). Matching is Meta's rule, as in
ThreatExchange's vpdq and pytx: only frames of quality >= the minimum count, duplicate frame
hashes count once; ``query_match_pct`` is the share of the query's frames within the distance
threshold of some target frame, ``target_match_pct`` the share of the target's frames matched
by some query frame; a video matches when both reach their thresholds (defaults 80% and 0%).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from consentry.signals.hashing.base import (
    EntryMatch,
    HashType,
    HashValueError,
    ItemHash,
    MatchSettings,
    ReportLine,
    hex_value,
)
from consentry.signals.hashing.mih import MIHIndex, hex_to_words, popcount_distance

QUERY_MATCH_PCT = 80.0  # pytx VPDQ_QUERY_MATCH_THRESHOLD_PERCENT
TARGET_MATCH_PCT = 0.0  # pytx VPDQ_INDEX_MATCH_THRESHOLD_PERCENT


@dataclass(frozen=True)
class VpdqFrame:
    hash: str
    quality: int
    timestamp: float


@dataclass(frozen=True)
class VideoMatch:
    query_match_pct: float
    target_match_pct: float
    min_distance: int


class VpdqType(HashType):
    name = "vpdq"
    aliases = ("pdq_video", "video_pdq", "video_vpdq")
    description = "vPDQ: the PDQ hash, quality and time of each sampled frame of a video"
    media: ClassVar[frozenset[str]] = frozenset({"video"})
    index = MIHIndex  # one row per distinct frame hash
    default_threshold = 31  # pytx VPDQ_DISTANCE_THRESHOLD, per frame
    default_quality_min = 50  # pytx VPDQ_QUALITY_THRESHOLD
    composite = True

    @classmethod
    def parse(cls, value: str) -> str:
        return vpdq_value(parse_frames(value))

    @classmethod
    def value_key(cls, canonical: str) -> str:
        return hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """The smallest frame-to-frame distance (the rule itself is ``compare``)."""
        result = compare(_hashes(parse_frames(a)), _hashes(parse_frames(b)), 256)
        return result.min_distance if result else 256

    @classmethod
    def matches(cls, a: str, b: str, threshold: int | None = None) -> bool:
        """Whether video ``a`` matches banked video ``b`` by Meta's rule with pytx's defaults."""
        queries = [ItemHash(f.hash, f.quality) for f in parse_frames(a)]
        settings = MatchSettings(cls.default_threshold if threshold is None else threshold,
                                 cls.default_quality_min or 0, False, QUERY_MATCH_PCT, TARGET_MATCH_PCT)
        return cls.compare_entry(queries, b, settings) is not None

    @classmethod
    def compare_entry(cls, queries: list[ItemHash], value: str, settings: MatchSettings
                      ) -> EntryMatch | None:
        """Meta's rule between the scanned video's frames and one banked video."""
        query = unique_good_frames([(q.value, q.quality or 0) for q in queries], settings.quality_min)
        target = unique_good_frames([(f.hash, f.quality) for f in parse_frames(value)],
                                    settings.quality_min)
        result = compare(query, target, settings.threshold)
        if (result is None or result.query_match_pct < settings.video_query_pct
                or result.target_match_pct < settings.video_target_pct):
            return None
        return EntryMatch(cls.value_key(value), result.min_distance, None,
                          (("query_match_pct", result.query_match_pct),
                           ("target_match_pct", result.target_match_pct)))

    @classmethod
    def examples(cls) -> list[str]:
        frames = [VpdqFrame(h, 100, float(t)) for t, h in enumerate(_pdq_examples())]
        return [vpdq_value(frames), vpdq_value(frames[:1])]

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> list[ItemHash]:
        frames = item.get("vpdq")
        if not isinstance(frames, list):
            return []
        return [ItemHash(str(f["hash"]), int(f["quality"]), f.get("frame"), f.get("timestamp"))
                for f in frames if isinstance(f, Mapping) and f.get("hash")]

    @classmethod
    def bank_values(cls, item: Mapping[str, Any]) -> list[tuple[str, int | None]]:
        frames = item.get("vpdq")
        if not frames:
            return []
        try:
            return [(cls.parse(vpdq_value(frames)), None)]
        except (KeyError, TypeError, ValueError):
            raise HashValueError(cls.name, "vpdq frames need hash, quality and timestamp") from None

    @classmethod
    def index_keys(cls, canonical: str) -> list[str]:
        return list(dict.fromkeys(f.hash for f in parse_frames(canonical)))

    @classmethod
    def report_line(cls, item: Mapping[str, Any]) -> ReportLine | None:
        frames = item.get("vpdq")
        return ReportLine(f"vpdq: {len(frames)} frames") if frames else None


def parse_frames(value: str) -> list[VpdqFrame]:
    """Frames of a vPDQ value (either serialisation); raises HashValueError."""
    try:
        items = json.loads(value)
    except (TypeError, json.JSONDecodeError) as exc:
        raise HashValueError("vpdq", f"vpdq value is not a JSON list: {getattr(exc, 'msg', exc)}") from None
    if not isinstance(items, list) or not items:
        raise HashValueError("vpdq", "vpdq value must be a non-empty JSON list of frames")
    frames = []
    for n, item in enumerate(items):
        parts = item.split(",") if isinstance(item, str) else []
        if len(parts) != 3:
            raise HashValueError("vpdq", f"vpdq frame {n} is not 'pdq_hex,quality,timestamp'")
        try:
            quality, timestamp = int(parts[1]), float(parts[2])
        except ValueError:
            raise HashValueError("vpdq", f"vpdq frame {n}: quality or timestamp is not a number") from None
        if not 0 <= quality <= 100:
            raise HashValueError("vpdq", f"vpdq frame {n}: quality {quality} is not 0-100")
        if not timestamp >= 0:  # also refuses NaN
            raise HashValueError("vpdq", f"vpdq frame {n}: timestamp {parts[2]!r} is not >= 0")
        frames.append(VpdqFrame(hex_value("vpdq", parts[0], 64), quality, timestamp))
    return frames


def vpdq_value(frames: Sequence[Mapping[str, Any]] | Sequence[VpdqFrame]) -> str:
    """Canonical vPDQ string from frames (dicts with hash/quality/timestamp, or VpdqFrame)."""
    out = []
    for f in frames:
        h, q, t = (f.hash, f.quality, f.timestamp) if isinstance(f, VpdqFrame) else (
            f["hash"], f["quality"], f["timestamp"])
        out.append(f"{h},{int(q)},{float(t):.3f}")
    return json.dumps(out, separators=(",", ":"))


def unique_good_frames(frames: Sequence[tuple[str, int]], quality_min: int) -> list[str]:
    return list(dict.fromkeys(h for h, q in frames if q >= quality_min))


def compare(query: list[str], target: list[str], threshold: int) -> VideoMatch | None:
    """Both lists are unique frame hashes that passed the quality gate."""
    if not query or not target:
        return None
    qw, tw = hex_to_words(query), hex_to_words(target)
    dist = popcount_distance(qw[:, None, :], tw[None, :, :])  # |query| x |target|
    close = dist <= threshold
    return VideoMatch(
        query_match_pct=round(100.0 * float(close.any(axis=1).mean()), 2),
        target_match_pct=round(100.0 * float(close.any(axis=0).mean()), 2),
        min_distance=int(dist.min()),
    )


def _hashes(frames: list[VpdqFrame]) -> list[str]:
    return list(dict.fromkeys(f.hash for f in frames))


def _pdq_examples() -> list[str]:
    from consentry.signals.hashing.hash_types.pdq import PdqType

    return PdqType.examples()
