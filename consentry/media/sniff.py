"""Identify media by its leading bytes, never by its file name."""

from __future__ import annotations

from dataclasses import dataclass

from consentry.types import MediaKind

_HEIF_BRANDS = {
    b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis",
}


@dataclass(frozen=True)
class Sniffed:
    kind: MediaKind
    format: str  # short name: jpeg, png, gif, webp, bmp, tiff, heif, mp4, mov, matroska, avi


def sniff(head: bytes) -> Sniffed | None:
    """Return what ``head`` (the first 64+ bytes of a file) looks like, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(MediaKind.IMAGE, "jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(MediaKind.IMAGE, "png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed(MediaKind.IMAGE, "gif")  # the decoder promotes animated GIFs to video
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(MediaKind.IMAGE, "webp")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed(MediaKind.VIDEO, "avi")
    if head.startswith(b"BM") and len(head) >= 26:
        return Sniffed(MediaKind.IMAGE, "bmp")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Sniffed(MediaKind.IMAGE, "tiff")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed(MediaKind.VIDEO, "matroska")  # MKV and WebM
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return Sniffed(MediaKind.IMAGE, "heif")
        if brand == b"qt  ":
            return Sniffed(MediaKind.VIDEO, "mov")
        return Sniffed(MediaKind.VIDEO, "mp4")  # isom, mp42, M4V, 3gp, dash, ...
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return Sniffed(MediaKind.VIDEO, "mov")  # old QuickTime files without ftyp
    return None
