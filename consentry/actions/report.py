"""A self-contained HTML report of one scan. Thumbnails are blurred and greyscale unless the
reviewer asks otherwise: a reviewer should not be exposed to abusive media by default.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from consentry import __version__
from consentry.actions.protect import protect
from consentry.actions.sections import banks, faces, manipulation, provenance, sexual, verdict
from consentry.actions.triage import DETECTOR_CAVEAT, rests_on_the_detector_alone, triage
from consentry.signals.hashing import catalogue as hash_catalogue
from consentry.signals.hashing.base import ReportLine
from consentry.types import ItemReport, ItemStatus

# The findings column of each row, in this order: one renderer per stage, each returning an
# escaped HTML fragment (empty when its stage found nothing on the item).
# The verdict heads them (rendered with the scan-wide context, see _row).
SECTIONS: tuple[Callable[[ReportItem], str], ...] = (
    banks.render_matches,
    faces.render_faces,
    manipulation.render_manipulation,
    sexual.render_sexual,
    provenance.render_provenance,
)

# No scripts, no network: the report opens safely from an e-mail or a case file.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:6px;
vertical-align:top;text-align:left}th{background:#f4f4f4}.error{color:#a00}.flagged{color:#a60}
img.thumb{max-width:160px;max-height:160px;border-radius:4px}code{font-size:12px;word-break:break-all}
.summary span{display:inline-block;margin-right:2em}
.triage td{width:33%}.caveat{color:#666;font-size:12px}
"""


@dataclass(frozen=True)
class ReportItem:
    """One row of the report: the item's JSON (as stored) and, for a live scan, the evidence
    that only ever stays in memory (a preview, the most suspicious face and its heatmap)."""

    data: dict[str, Any]
    thumbnail_jpeg: bytes | None = None
    face_jpeg: bytes | None = None
    face_heatmap: np.ndarray | None = None
    face_where: str = ""

    @classmethod
    def from_report(cls, report: ItemReport) -> ReportItem:
        result = report.results.get("manipulation")
        face = getattr(result, "payload", None)
        if face is None or not getattr(face, "worst_crop_jpeg", None) or face.heatmap is None:
            return cls(report.as_json(), report.thumbnail_jpeg)
        where = f"track {face.worst.get('track')} at {face.worst.get('t', 0):.1f}s"
        return cls(report.as_json(), report.thumbnail_jpeg, face.worst_crop_jpeg, face.heatmap, where)


def write_report(path: Path, items: list[ReportItem], scan_id: int, *, blur: bool = True) -> None:
    path.write_text(render(items, scan_id, blur=blur), encoding="utf-8")


def render(items: list[ReportItem], scan_id: int, *, blur: bool = True) -> str:
    n_err = sum(i.data.get("status") == ItemStatus.ERROR.value for i in items)
    n_flag = sum(bool(i.data.get("flagged")) for i in items)
    seen = triage([i.data for i in items])
    rows = "\n".join(_row(items[n], blur, seen.group_of.get(n), seen.not_run_anywhere)
                     for n in seen.order)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = "Thumbnails are blurred and greyscale." if blur else "Thumbnails are NOT blurred."
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Consentry scan {scan_id}</title>
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<style>{_CSS}</style></head><body>
<h1>Consentry scan {scan_id}</h1>
<p class="summary"><span>{len(items)} items</span><span>{n_err} could not be read</span>
<span>{n_flag} flagged</span><span>{stamp}</span><span>consentry {__version__}</span></p>
<p>{note}</p>
{seen.summary_html([i.data for i in items])}
<h2>Items, flagged first</h2>
<table><thead><tr><th>preview</th><th>item</th><th>hashes</th><th>findings</th></tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""


def _hash_line(line: ReportLine) -> str:
    code = f" <code>{html.escape(line.code)}</code>" if line.code else ""
    return f"{html.escape(line.label)}{code}{html.escape(line.suffix)}"


def _row(item: ReportItem, blur: bool, group: int | None, not_run_anywhere: tuple[str, ...]) -> str:
    data = item.data
    thumb = ""
    if item.thumbnail_jpeg:
        b64 = base64.b64encode(protect(item.thumbnail_jpeg, blur=blur)).decode()
        thumb = f'<img class="thumb" alt="preview" src="data:image/jpeg;base64,{b64}">'
    css = ("error" if data.get("status") == ItemStatus.ERROR.value
           else ("flagged" if data.get("flagged") else ""))
    media = data.get("media") or {}
    desc = [f"<b>{html.escape(str(data.get('path')))}</b>",
            f"{html.escape(str(data.get('kind') or '?'))} · {html.escape(data['status'])}"]
    if media:
        desc.append(html.escape(f"{media.get('container')} {media.get('width')}x{media.get('height')}"
                                + (f" {media['duration']:.1f}s" if media.get("duration") else "")))
    if data.get("error"):
        desc.append(f'<span class="error">{html.escape(str(data["error"]))}</span>')
    if group is not None:
        desc.append(f"near-duplicate group {group}")
    hashes = [_hash_line(line) for t in hash_catalogue.all_types() if (line := t.report_line(data))]
    sections = verdict.render_verdict(item, not_run_anywhere)
    sections += "".join(section(item) for section in SECTIONS)
    if rests_on_the_detector_alone(data):
        sections += f'<p class="caveat">{html.escape(DETECTOR_CAVEAT)}</p>'

    return (f'<tr class="{css}"><td>{thumb}</td><td>{"<br>".join(desc)}</td>'
            f'<td>{"<br>".join(h for h in hashes if h)}</td><td>{sections}</td></tr>')

