"""The manipulation findings in the HTML report: a timeline per face track (inline SVG) and,
on the most suspicious face, where the model looked (occlusion sensitivity), always blurred."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING

import numpy as np

from consentry.actions.protect import protect
from consentry.signals.conditions import score_vs_threshold

if TYPE_CHECKING:
    from consentry.actions.report import ReportItem

_W, _H = 240, 48


def timeline_svg(timeline: list[list[float]], threshold: float) -> str:
    if not timeline:
        return ""
    ts = [float(t) for t, _ in timeline]
    span = max(ts[-1] - ts[0], 1e-6)
    pts = " ".join(f"{(t - ts[0]) / span * (_W - 4) + 2:.1f},{_H - 2 - float(s) * (_H - 4):.1f}"
                   for t, s in timeline)
    y_thr = _H - 2 - threshold * (_H - 4)
    if len(timeline) == 1:  # a still image: one marked value, never an empty chart
        y = _H - 2 - float(timeline[0][1]) * (_H - 4)
        mark = f'<circle cx="{_W / 2:.1f}" cy="{y:.1f}" r="4" fill="#333"/>'
    else:
        mark = f'<polyline fill="none" stroke="#333" stroke-width="1.5" points="{pts}"/>'
    return (f'<svg width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" role="img" '
            f'aria-label="manipulation score over time">'
            f'<rect width="{_W}" height="{_H}" fill="#f7f7f7"/>'
            f'<line x1="0" x2="{_W}" y1="{y_thr:.1f}" y2="{y_thr:.1f}" stroke="#c60" stroke-dasharray="3,3"/>'
            f"{mark}</svg>")


def heatmap_jpeg(crop_jpeg: bytes, heat: np.ndarray) -> bytes:
    """The blurred, greyscale face with the occlusion map laid over it in red."""
    from PIL import Image

    face = Image.open(io.BytesIO(protect(crop_jpeg, blur=True))).convert("RGB")
    mask = Image.fromarray((np.clip(heat, 0, 1) * 160).astype(np.uint8)).resize(face.size, Image.BILINEAR)
    red = Image.new("RGB", face.size, (220, 30, 30))
    out = io.BytesIO()
    Image.composite(red, face, mask).save(out, format="JPEG", quality=80)
    return out.getvalue()


def render_manipulation(item: ReportItem) -> str:
    data = item.data.get("manipulation")
    if not data or data.get("score") is None:
        return ""
    thr = float(data.get("threshold", 0.5))
    css = ' class="flagged"' if data["score"] >= thr else ""
    shown, op, limit = score_vs_threshold(float(data["score"]), thr)
    parts = [f"<span{css}>manipulation score {shown} {op} threshold {limit}</span>"]
    for track in data.get("tracks", []):
        track_score, _, _ = score_vs_threshold(float(track["score"]), thr)
        parts.append(f"track {int(track['track'])}: {track_score} "
                     + timeline_svg(track.get("timeline", []), thr))
    if item.face_jpeg and item.face_heatmap is not None:
        b64 = base64.b64encode(heatmap_jpeg(item.face_jpeg, item.face_heatmap)).decode()
        where = html.escape(item.face_where)
        parts.append(f'<img class="thumb" alt="where the detector looked ({where})" '
                     f'src="data:image/jpeg;base64,{b64}"> most suspicious face ({where}), red = regions '
                     f"whose occlusion lowers the score most")
    return "<br>".join(parts) + "<br>"
