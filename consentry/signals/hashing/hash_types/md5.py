"""MD5 of a file's bytes (``video_md5`` in python-threatexchange; ``photo_md5`` elsewhere)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from consentry.signals.hashing.base import ExactLookup, HashType, ItemHash, hex_distance, hex_value


class Md5Type(HashType):
    name = "md5"
    aliases = ("video_md5", "photo_md5", "file_md5")
    description = "MD5 of the file's bytes, 32 hex characters (exact match only)"
    media: ClassVar[frozenset[str]] = frozenset({"photo", "video"})
    index = ExactLookup
    file_digest = True

    @classmethod
    def parse(cls, value: str) -> str:
        return hex_value(cls.name, value, 32)

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return 0 if a == b else hex_distance(a, b)

    @classmethod
    def matches(cls, a: str, b: str, threshold: int | None = None) -> bool:
        return a == b  # a digest either is the file or is not

    @classmethod
    def examples(cls) -> list[str]:
        return ["d41d8cd98f00b204e9800998ecf8427e", "cab08b36195edb1a1231d2d09fa450e0"]

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> list[ItemHash]:
        return [ItemHash(str(item["md5"]))] if item.get("md5") else []

    @classmethod
    def exchange_name(cls, media: str | None = None) -> str:
        # pytx knows only video_md5; a photo's MD5 keeps the name HMA and others use
        return "photo_md5" if media == "photo" else "video_md5"
