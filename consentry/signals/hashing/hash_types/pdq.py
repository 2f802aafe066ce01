"""PDQ, Meta's perceptual photo hash (``pdq`` in python-threatexchange)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from consentry.signals.hashing.base import (
    HashType,
    ItemHash,
    ReportLine,
    hex_distance,
    hex_value,
    item_fields,
)
from consentry.signals.hashing.mih import MIHIndex
from consentry.types import ItemReport


class PdqType(HashType):
    name = "pdq"
    aliases = ("photo_pdq", "pdq_photo")
    description = "PDQ: 256-bit perceptual hash of a photo, 64 hex characters"
    media: ClassVar[frozenset[str]] = frozenset({"photo"})
    index = MIHIndex
    default_threshold = 31  # Meta's PDQ_CONFIDENT_MATCH_THRESHOLD
    default_quality_min = 50  # pytx's PdqSignal.QUALITY_THRESHOLD

    @classmethod
    def parse(cls, value: str) -> str:
        return hex_value(cls.name, value, 64)

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return hex_distance(a, b)

    @classmethod
    def examples(cls) -> list[str]:
        return [  # Meta's bridge-mods (pdq/data) and two others of its test set
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
            "d8f8f0cec0f4a84f8e370a22038f67f0b36a2ed597231e1d72e6b39c4a9c9b22",
            "e64cc9d91c623882f8d1f1d9a398e78c9f199b3bd83924f2b7e11e0bf861b064",
            "0" * 64,
        ]

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> list[ItemHash]:
        pdq = item.get("pdq")
        if not isinstance(pdq, Mapping) or not pdq.get("hash"):
            return []
        return [ItemHash(str(pdq["hash"]), _int_or_none(pdq.get("quality")))]

    @classmethod
    def queries(cls, report: ItemReport) -> list[ItemHash]:
        """The image's PDQ, its 7 other dihedral variants (for banks that match rotations
        and flips) and, when the file's EXIF orientation is not upright, the hash of its
        pixels as stored (what pytx and HMA hash; every bank matches it), read from the hash
        signal's output."""
        result = report.results.get("hash")
        output = result.output if result is not None else None
        dihedral = getattr(output, "dihedral", None)
        if not dihedral:
            return cls.from_item(item_fields(report)) + cls.frame_queries(item_fields(report))
        queries = [ItemHash(d.hash, d.quality, transform=None if n == 0 else d.transform, dihedral=n > 0)
                   for n, d in enumerate(dihedral)]
        stored = getattr(output, "stored", None)
        if stored is not None:
            queries.append(ItemHash(stored.hash, stored.quality, transform="stored-orientation"))
        return queries

    @classmethod
    def frame_queries(cls, item: Mapping[str, Any]) -> list[ItemHash]:
        """Each distinct frame of a video, an animation or a multi-page TIFF as a photo query,
        so that a banked photo turned into a video, or hidden in frame 2 of a GIF, matches the
        photo banks (with their PDQ threshold and quality gate; the match names the frame)."""
        seen: dict[str, ItemHash] = {}
        for frame in item.get("vpdq") or []:
            if isinstance(frame, Mapping) and frame.get("hash") and frame["hash"] not in seen:
                seen[str(frame["hash"])] = ItemHash(
                    str(frame["hash"]), _int_or_none(frame.get("quality")),
                    frame=_int_or_none(frame.get("frame")), timestamp=frame.get("timestamp"),
                    transform="video-frame")
        return list(seen.values())

    @classmethod
    def report_line(cls, item: Mapping[str, Any]) -> ReportLine | None:
        hashes = cls.from_item(item)
        if not hashes:
            return None
        return ReportLine("pdq", hashes[0].value, f" q{hashes[0].quality}")


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
