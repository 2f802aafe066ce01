"""What the item page shows, read from the item's stored JSON: the verdict and its reasons,
each signal's evidence, and the manipulation plot (an inline SVG drawn here: a timeline per
face track for a video, a single marked value for a still image, no chart when nothing was
scored). Everything returned is plain data or markup built from numbers only; text from the
item (file names, bank names, notes) is escaped by the templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consentry.signals.conditions import score_vs_threshold

_W, _H, _PAD_L, _PAD_B, _PAD_T, _PAD_R = 520, 150, 36, 24, 10, 12


def signals_with_findings(result: dict[str, Any]) -> list[str]:
    """The signals that found something on this item (the queue's signal filter)."""
    found = []
    if result.get("matches"):
        found.append("bank")
    if result.get("likeness"):
        found.append("likeness")
    manip = result.get("manipulation") or {}
    if manip.get("flagged"):
        found.append("manipulation")
    sexual = result.get("sexual") or {}
    if isinstance(sexual, dict) and (sexual.get("score") or 0) >= 0.5:
        found.append("sexual")
    prov = result.get("provenance") or {}
    if isinstance(prov, dict) and any(isinstance(p, dict) and p.get("ai_generated")
                                      for p in (prov.get("c2pa"), prov.get("metadata"))):
        found.append("provenance")
    return found


def reason_codes(reasons: list[dict[str, Any]]) -> list[str]:
    return [str(r.get("code")) for r in reasons if r.get("code")]


def _y(score: float) -> float:
    return _PAD_T + (1.0 - max(0.0, min(1.0, score))) * (_H - _PAD_T - _PAD_B)


def _axes(x_label: str) -> list[str]:
    parts = [f'<rect x="0" y="0" width="{_W}" height="{_H}" fill="#fafafa"/>']
    for tick in (0.0, 0.5, 1.0):
        y = _y(tick)
        parts.append(f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#555">{tick:.1f}</text>')
    parts.append(f'<line x1="{_PAD_L}" x2="{_PAD_L}" y1="{_PAD_T}" y2="{_H - _PAD_B}" stroke="#888"/>')
    parts.append(f'<text x="{(_W + _PAD_L) / 2:.0f}" y="{_H - 4}" font-size="11" text-anchor="middle" '
                 f'fill="#555">{x_label}</text>')
    return parts


def _threshold(threshold: float) -> list[str]:
    y = _y(threshold)
    return [f'<line class="threshold" x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#c60" stroke-dasharray="5,4"/>',
            f'<text x="{_W - _PAD_R}" y="{y - 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#c60">threshold {threshold:.3f}</text>']


def manipulation_svg(data: dict[str, Any], still: bool) -> str:
    """The plot, or "" when there is nothing to plot (then the page says so in words)."""
    if not data or data.get("score") is None:
        return ""
    threshold = float(data.get("threshold", 0.5))
    tracks = [t for t in data.get("tracks") or [] if t.get("timeline")]
    points = [(float(t), float(s)) for tr in tracks for t, s in tr["timeline"]]
    parts = [f'<svg class="plot" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg" aria-label="manipulation score">']
    if still or len({t for t, _ in points}) < 2:
        score = float(data["score"])
        parts += _axes("still image: one score")
        parts += _threshold(threshold)
        x, y = (_W + _PAD_L) / 2, _y(score)
        colour = "#b00" if score >= threshold else "#246"
        parts.append(f'<circle class="value" cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}"/>')
        parts.append(f'<text x="{x + 10:.1f}" y="{y + 4:.1f}" font-size="12" fill="{colour}">'
                     f'{score:.3f}</text>')
        return "".join(parts) + "</svg>"
    t0 = min(t for t, _ in points)
    span = max(max(t for t, _ in points) - t0, 1e-6)
    parts += _axes(f"time (s), {t0:.1f} to {t0 + span:.1f}")
    parts += _threshold(threshold)
    palette = ("#246", "#692", "#926", "#b70")
    for i, track in enumerate(tracks):
        pts = " ".join(f"{_PAD_L + (float(t) - t0) / span * (_W - _PAD_L - _PAD_R):.1f},{_y(float(s)):.1f}"
                       for t, s in track["timeline"])
        parts.append(f'<polyline class="track" fill="none" stroke="{palette[i % len(palette)]}" '
                     f'stroke-width="1.6" points="{pts}"/>')
    return "".join(parts) + "</svg>"


@dataclass
class Evidence:
    verdict: dict[str, Any]
    reasons: list[dict[str, Any]]
    matches: list[dict[str, Any]]
    likeness: list[dict[str, Any]] | None  # None: this role may not see them
    likeness_hidden: int
    manipulation: dict[str, Any] | None
    manipulation_svg: str
    manipulation_text: str
    faces: int | None
    sexual: dict[str, Any] | None
    provenance: list[tuple[str, str]] = field(default_factory=list)
    media: dict[str, Any] = field(default_factory=dict)
    signal_errors: dict[str, Any] = field(default_factory=dict)
    not_run: list[str] = field(default_factory=list)


def evidence(result: dict[str, Any], *, may_see_likeness: bool) -> Evidence:
    verdict = dict(result.get("verdict") or {})
    manip = result.get("manipulation")
    still = result.get("kind") != "video"
    text = ""
    if manip and manip.get("score") is not None:
        shown, op, limit = score_vs_threshold(float(manip["score"]), float(manip.get("threshold", 0.5)))
        text = f"score {shown} {op} threshold {limit}"
    likeness = list(result.get("likeness") or [])
    faces = result.get("faces")
    sexual = result.get("sexual") if isinstance(result.get("sexual"), dict) else None
    not_run = [name for name, key in (("hash", "pdq"), ("faces", "faces"), ("manipulation", "manipulation"),
                                      ("sexual", "sexual"), ("provenance", "provenance"))
               if key not in result and not (key == "pdq" and "vpdq" in result)]
    return Evidence(
        verdict=verdict, reasons=list(verdict.get("reasons") or []),
        matches=list(result.get("matches") or []),
        likeness=likeness if may_see_likeness else None,
        likeness_hidden=0 if may_see_likeness else len(likeness),
        manipulation=manip if manip and manip.get("score") is not None else None,
        manipulation_svg=manipulation_svg(manip or {}, still), manipulation_text=text,
        faces=len(faces) if isinstance(faces, list) else None, sexual=sexual,
        provenance=_provenance(result.get("provenance")), media=dict(result.get("media") or {}),
        signal_errors=dict(result.get("signal_errors") or {}), not_run=not_run)


def _provenance(prov: Any) -> list[tuple[str, str]]:
    if not isinstance(prov, dict):
        return []
    rows: list[tuple[str, str]] = []
    c2pa = prov.get("c2pa")
    if isinstance(c2pa, dict):
        if c2pa.get("error"):
            rows.append(("C2PA", f"could not be read: {c2pa['error']}"))
        elif c2pa.get("validation_state"):
            gen = c2pa.get("claim_generator") or "unknown generator"
            ai = ", declares AI-generated" if c2pa.get("ai_generated") else ""
            rows.append(("C2PA", f"{c2pa['validation_state']} manifest by {gen}{ai}"))
        else:
            rows.append(("C2PA", "no manifest"))
    mark = prov.get("watermark")
    if isinstance(mark, dict) and not mark.get("error"):
        found = f"detected ({mark.get('match')})" if mark.get("detected") else "none detected"
        rows.append(("Watermark", found))
    meta = prov.get("metadata")
    if isinstance(meta, dict) and not meta.get("error"):
        tools = meta.get("software")
        software = tools.get("software") if isinstance(tools, dict) else None
        gens = ", ".join(meta.get("generators") or []) or "none"
        rows.append(("Metadata", f"software: {software or 'not stated'}; generators: {gens}"))
    return rows
