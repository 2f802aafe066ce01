"""SHA-256 of a file's bytes (``video_sha256`` in python-threatexchange)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from consentry.signals.hashing.base import (
    ExactLookup,
    HashType,
    ItemHash,
    ReportLine,
    hex_distance,
    hex_value,
)


class Sha256Type(HashType):
    name = "sha256"
    aliases = ("video_sha256", "photo_sha256", "file_sha256")
    description = "SHA-256 of the file's bytes, 64 hex characters (exact match only)"
    media: ClassVar[frozenset[str]] = frozenset({"photo", "video"})
    index = ExactLookup
    file_digest = True

    @classmethod
    def parse(cls, value: str) -> str:
        return hex_value(cls.name, value, 64)

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return 0 if a == b else hex_distance(a, b)

    @classmethod
    def matches(cls, a: str, b: str, threshold: int | None = None) -> bool:
        return a == b

    @classmethod
    def examples(cls) -> list[str]:
        return ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> list[ItemHash]:
        return [ItemHash(str(item["sha256"]))] if item.get("sha256") else []

    @classmethod
    def bank_values(cls, item: Mapping[str, Any]) -> list[tuple[str, int | None]]:
        return []  # banks and submissions carry the MD5; the SHA-256 only matches what is banked

    @classmethod
    def exchange_name(cls, media: str | None = None) -> str:
        return "photo_sha256" if media == "photo" else "video_sha256"

    @classmethod
    def report_line(cls, item: Mapping[str, Any]) -> ReportLine | None:
        return None  # the report shows the MD5; a second digest of the same bytes adds nothing
