"""The face overlay of the item page: each face (a track, for a video) as a box where the faces
signal found it, tinted by its manipulation score (a heat tint: deeper for a higher score, red
at or above the detector's threshold), with its score written beside it. Drawn as an inline SVG
from the stored result alone, numbers only (nothing from the item's text reaches the markup).

Per-pixel heatmaps are computed during a live scan and never stored, so the page tints whole
boxes. The overlay is shown only where the item's media is kept for review (the page decides);
it lies over the blurred picture and changes nothing of its blur."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

_TURNING = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class FaceBox:
    track: int
    box: tuple[float, float, float, float]
    score: float | None
    flagged: bool
    frame: int | None


def boxes(result: dict[str, Any]) -> list[FaceBox]:
    """The item's faces with their tracks' manipulation scores (None where not scored)."""
    manip = result.get("manipulation") if isinstance(result.get("manipulation"), dict) else {}
    threshold = float((manip or {}).get("threshold", 0.5))
    scores = {int(t["track"]): float(t["score"]) for t in (manip or {}).get("tracks") or []
              if isinstance(t, dict) and t.get("track") is not None and t.get("score") is not None}
    out = []
    for face in result.get("faces") or []:
        box = face.get("box") if isinstance(face, dict) else None
        if not isinstance(box, list | tuple) or len(box) != 4:
            continue
        try:
            x0, y0, x1, y1 = (float(v) for v in box)
            track = int(face.get("track", len(out)))
        except (TypeError, ValueError):
            continue
        score = scores.get(track)
        out.append(FaceBox(track, (x0, y0, x1, y1), score, score is not None and score >= threshold,
                           face.get("best_frame") if isinstance(face.get("best_frame"), int) else None))
    return out


def still_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a still as the faces signal saw it (EXIF orientation applied)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            turned = img.getexif().get(_EXIF_ORIENTATION, 1) in _TURNING
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return (height, width) if turned else (width, height)


def overlay_svg(faces: list[FaceBox], width: int, height: int, *, css_class: str) -> str:
    """An SVG in the picture's own pixel space (``viewBox``), stretched over it by the page's CSS."""
    if not faces or width <= 0 or height <= 0:
        return ""
    stroke = max(width, height) / 250
    font = max(width, height) / 28
    parts = [f'<svg class="{css_class}" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
             f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="face boxes and scores">']
    if css_class == "frame-map":
        parts.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f2f2f2" stroke="#999" '
                     f'stroke-width="{stroke:.1f}"/>')
    for n, face in enumerate(faces, 1):
        x0, y0, x1, y1 = face.box
        colour = "#d00" if face.flagged else "#27c"
        tint = 0.08 + 0.5 * max(0.0, min(1.0, face.score)) if face.score is not None else 0.0
        label = f"face {n}: {face.score:.3f}" if face.score is not None else f"face {n}: not scored"
        ty = y0 - font * 0.3 if y0 > font * 1.2 else y1 + font
        parts.append(f'<rect class="face{" flagged" if face.flagged else ""}" x="{x0:.1f}" y="{y0:.1f}" '
                     f'width="{max(1.0, x1 - x0):.1f}" height="{max(1.0, y1 - y0):.1f}" fill="{colour}" '
                     f'fill-opacity="{tint:.2f}" stroke="{colour}" stroke-width="{stroke:.1f}"/>')
        ink = "#900" if face.flagged else "#034"
        parts.append(f'<rect class="label-bg" x="{x0:.1f}" y="{ty - font * 0.95:.1f}" '
                     f'width="{len(label) * font * 0.58:.1f}" height="{font * 1.25:.1f}" fill="#fff" '
                     f'fill-opacity="0.85"/>')
        parts.append(f'<text x="{x0 + font * 0.1:.1f}" y="{ty:.1f}" font-size="{font:.1f}" '
                     f'fill="{ink}">{label}</text>')
    return "".join(parts) + "</svg>"
