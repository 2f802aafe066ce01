"""The faces and likeness findings of an item in the HTML report (no face images: counts,
tracks and matches only)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consentry.actions.report import ReportItem


def render_faces(item: ReportItem) -> str:
    data = item.data
    faces = data.get("faces")
    parts: list[str] = []
    if faces:
        matchable = sum(bool(f.get("matchable")) for f in faces)
        parts.append(f"faces: {len(faces)} track(s), {matchable} good enough to match")
    for hit in data.get("likeness") or []:
        # ``person`` is an id, or a pseudonym (and no name) once the person was removed.
        person = html.escape(str(hit.get("person")))
        who = html.escape(str(hit.get("name") or f"person {person}"))
        parts.append(f'<b class="flagged">protected person {who} (id {person})</b> in track '
                     f"{int(hit['track'])}, distance {float(hit['distance']):.3f}")
    return "<br>".join(parts) + ("<br>" if parts else "")
