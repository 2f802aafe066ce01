"""Metadata hints: which software or generator the file's own metadata names.

Read: EXIF Software / ImageDescription / Artist / Make / Model / UserComment, PNG text chunks
(AUTOMATIC1111 writes ``parameters``, ComfyUI ``prompt`` and ``workflow``), XMP CreatorTool and
IPTC DigitalSourceType, and a video container's tags. Metadata is trivially edited or stripped:
a hint, never proof, and absence means nothing.

Privacy: generator text chunks hold the prompt. We keep the names of the fields that were found
and which generator they point to, plus short tool names, never the prompt text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from consentry.signals.provenance.c2pa_read import AI_SOURCE_TYPES

# name -> pattern matched (case-insensitively) against tool/description fields.
GENERATORS: dict[str, str] = {
    "stable-diffusion": r"stable[\s_-]?diffusion|\bsdxl\b|dreamstudio|stability\.ai",
    "automatic1111": r"automatic1111|\bsd-webui\b",
    "comfyui": r"comfyui",
    "invokeai": r"invoke[\s-]?ai",
    "novelai": r"novel[\s-]?ai",
    "midjourney": r"midjourney",
    "dall-e": r"dall[\s·-]?e",
    "adobe-firefly": r"firefly",
    "imagen": r"\bimagen\b|gemini",
    "flux": r"\bflux(\.1)?\b",
    "leonardo": r"leonardo\.ai",
    "ideogram": r"ideogram",
    "runway": r"runwayml|\brunway\b",
}
_PATTERNS = {name: re.compile(p, re.IGNORECASE) for name, p in GENERATORS.items()}
# Text chunk keys that only image generators write (their value is the prompt: never kept).
GENERATOR_CHUNKS = {"parameters": "automatic1111", "prompt": "comfyui", "workflow": "comfyui",
                    "invokeai_metadata": "invokeai", "sd-metadata": "invokeai", "dream": "invokeai"}
_A1111 = re.compile(r"Steps: \d+, Sampler: ")
TOOL_FIELDS = ("software", "creator_tool", "make", "model", "encoder", "handler_name")
_EXIF = {0x0131: "software", 0x010E: "description", 0x013B: "artist", 0x010F: "make",
         0x0110: "model"}
_XMP = {"creator_tool": re.compile(rb"CreatorTool(?:>|=\")([^<\"]{1,200})"),
        "digital_source_type": re.compile(rb"DigitalSourceType(?:>|=\")([^<\"]{1,200})"),
        "software_agent": re.compile(rb"softwareAgent(?:>|=\")([^<\"]{1,200})")}


def _generators(text: str) -> list[str]:
    return [name for name, pattern in _PATTERNS.items() if pattern.search(text)]


def image_fields(path: Path) -> tuple[dict[str, str], list[str]]:
    """(tool/description fields, names of generator text chunks present)."""
    from PIL import Image

    fields: dict[str, str] = {}
    chunks: list[str] = []
    with Image.open(path) as img:  # headers only: pixels are not decoded here
        exif = img.getexif()
        for tag, name in _EXIF.items():
            if value := exif.get(tag):
                fields[name] = str(value)
        if comment := exif.get_ifd(0x8769).get(0x9286):
            fields["user_comment"] = comment.decode("latin-1") if isinstance(comment, bytes) \
                else str(comment)
        for key, value in (img.info or {}).items():
            if not isinstance(value, str | bytes):
                continue
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            lower = str(key).lower()
            if lower in GENERATOR_CHUNKS or (lower == "comment" and _A1111.search(text)):
                chunks.append(lower)
            elif lower in ("software", "description", "comment", "title", "author", "source"):
                fields.setdefault(lower, text)
            elif lower in ("xmp", "xml:com.adobe.xmp"):
                raw = value if isinstance(value, bytes) else value.encode()
                for name, pattern in _XMP.items():
                    if match := pattern.search(raw):
                        fields[name] = match.group(1).decode("utf-8", "replace")
    return fields, chunks


def video_fields(path: Path) -> dict[str, str]:
    from consentry.media.video import read_tags  # the file's own bytes, never FFmpeg protocols

    fields: dict[str, str] = {}
    tags = read_tags(path)
    if tags is None:  # an animated image or multi-page TIFF: its image metadata
        return image_fields(path)[0]
    for key, value in tags.items():
        lower = key.lower().removeprefix("stream_")
        if lower in ("encoder", "comment", "title", "description", "software", "handler_name",
                     "artist"):
            fields.setdefault(lower, str(value))
    return fields


def summarise(fields: dict[str, str], chunks: list[str]) -> dict[str, Any]:
    generators = sorted({GENERATOR_CHUNKS.get(c, "automatic1111") for c in chunks}
                        | {g for value in fields.values() for g in _generators(value)})
    source = fields.get("digital_source_type", "")
    ai_source = source.rsplit("/", 1)[-1] in AI_SOURCE_TYPES
    return {
        "software": {k: v[:100] for k, v in fields.items() if k in TOOL_FIELDS},
        "fields": sorted(set(fields) | set(chunks)),
        "generator_chunks": sorted(set(chunks)),
        "digital_source_type": source or None,
        "generators": generators,
        "ai_generated": bool(generators) or ai_source,
    }
