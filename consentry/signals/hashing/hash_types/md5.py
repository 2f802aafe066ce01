"""MD5 of a file's bytes (``video_md5`` in python-threatexchange; ``photo_md5`` elsewhere)."""

from __future__ import annotations

from consentry.signals.hashing.base import FileDigestType


class Md5Type(FileDigestType):
    name = "md5"
    aliases = ("video_md5", "photo_md5", "file_md5")
    description = "MD5 of the file's bytes, 32 hex characters (exact match only)"
    hex_length = 32

    @classmethod
    def examples(cls) -> list[str]:
        return ["d41d8cd98f00b204e9800998ecf8427e", "cab08b36195edb1a1231d2d09fa450e0"]

    @classmethod
    def exchange_name(cls, media: str | None = None) -> str:
        # pytx knows only video_md5; a photo's MD5 keeps the name HMA and others use
        return "photo_md5" if media == "photo" else "video_md5"
