"""The bank matches of an item in the HTML report (bank, kind, signal, distance; no media)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consentry.actions.report import ReportItem


def render_matches(item: ReportItem) -> str:
    parts = []
    for held, matches in ((False, item.data.get("matches") or []),
                          (True, item.data.get("matches_held_back") or [])):
        for m in matches:
            css = "" if held or m.get("kind") == "allow" else ' class="flagged"'
            video = (f", {float(m['query_match_pct']):.0f}% of frames" if "query_match_pct" in m else "")
            turned = f", {m['transform']}" if m.get("transform") else ""
            note = " (held back: outside the roll-out ratio)" if held else ""
            parts.append(
                f"<b{css}>bank {html.escape(str(m['bank']))}</b> ({html.escape(str(m['kind']))}): "
                f"{html.escape(str(m['signal']))} distance {int(m['distance'])}"
                f"{html.escape(video + turned + note)}")
    return "<br>".join(parts) + ("<br>" if parts else "")
