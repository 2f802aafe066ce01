"""The verdict's section in the HTML report: the action, then each reason a reviewer reads."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consentry.actions.report import ReportItem

_COLOURS = {"block": "#a00", "review": "#a60", "label": "#246", "allow": "#484"}


def render_verdict(item: ReportItem, not_run_anywhere: tuple[str, ...] = ()) -> str:
    """``not_run_anywhere``: signals missing on every item, which the report says once."""
    verdict = item.data.get("verdict")
    if not verdict:
        return ""
    action = verdict["action"]
    head = action.upper() + (f" · priority {verdict['priority']}" if verdict.get("priority") else "")
    parts = [f'<div class="verdict"><b style="color:{_COLOURS.get(action, "#222")}">'
             f"{html.escape(head)}</b>"]
    if verdict.get("labels"):
        parts.append(" · labels: " + html.escape(", ".join(verdict["labels"])))
    items = [f"<li><code>{html.escape(r['code'])}</code> {html.escape(r['message'])}</li>"
             for r in verdict.get("reasons") or []]
    items += [f"<li><s><code>{html.escape(o['code'])}</code></s> overridden by "
              f"<code>{html.escape(o['by'])}</code></li>" for o in verdict.get("overridden") or []]
    if items:
        parts.append("<ul>" + "".join(items) + "</ul>")
    missing = [s for s in verdict.get("missing_signals") or [] if s not in not_run_anywhere]
    if missing:
        parts.append("<br><small>not run: " + html.escape(", ".join(missing)) + "</small>")
    parts.append(f"<br><small>policy {html.escape(str(verdict.get('policy')))}</small></div>")
    return "".join(parts)
