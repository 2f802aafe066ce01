"""SHA-256 of a file's bytes (``video_sha256`` in python-threatexchange)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consentry.signals.hashing.base import FileDigestType, ReportLine


class Sha256Type(FileDigestType):
    name = "sha256"
    aliases = ("video_sha256", "photo_sha256", "file_sha256")
    description = "SHA-256 of the file's bytes, 64 hex characters (exact match only)"
    hex_length = 64

    @classmethod
    def examples(cls) -> list[str]:
        return ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]

    @classmethod
    def bank_values(cls, item: Mapping[str, Any]) -> list[tuple[str, int | None]]:
        return []  # banks and submissions carry the MD5; the SHA-256 only matches what is banked

    @classmethod
    def exchange_name(cls, media: str | None = None) -> str:
        return "photo_sha256" if media == "photo" else "video_sha256"

    @classmethod
    def report_line(cls, item: Mapping[str, Any]) -> ReportLine | None:
        return None  # the report shows the MD5; a second digest of the same bytes adds nothing
