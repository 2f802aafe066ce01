"""The report's sexual-content line: the score and the strongest regions."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consentry.actions.report import ReportItem


def render_sexual(item: ReportItem) -> str:
    """The HTML report's line for this signal: the score and the strongest regions."""
    sexual = item.data.get("sexual")
    if not sexual:
        return ""
    top = ", ".join(f"{r['label'].lower()} {r['confidence']:.2f}" for r in sexual["regions"][:3])
    where = sexual.get("top_frame") or {}
    at = f" at {where['timestamp']:.1f}s" if where.get("score") else ""
    return (f"<div>sexual content: score {sexual['score']:.2f}{html.escape(at)}"
            + (f" <small>({html.escape(top)})</small>" if top else "") + "</div>")
