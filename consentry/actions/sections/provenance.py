"""The report's provenance line (only what says something)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consentry.actions.report import ReportItem


def render_provenance(item: ReportItem) -> str:
    """The HTML report's provenance line (only what says something)."""
    prov = item.data.get("provenance")
    if not prov:
        return ""
    parts = []
    c2pa = prov.get("c2pa") or {}
    if c2pa.get("validation_state") not in (None, "absent"):
        signer = (c2pa.get("signer") or {}).get("common_name")
        parts.append(f"C2PA {c2pa['validation_state']}" + (f", signed by {signer}" if signer else "")
                     + (f", by {c2pa['claim_generator']}" if c2pa.get("claim_generator") else "")
                     + (", declares AI-generated" if c2pa.get("ai_generated") else ""))
    mark = prov.get("watermark") or {}
    if mark.get("detected"):
        parts.append(f"{mark['match']} watermark ({mark['agreement']:.0%} of bits)")
    meta = prov.get("metadata") or {}
    if meta.get("generators"):
        parts.append("metadata names " + ", ".join(meta["generators"]))
    if not parts:
        return ""
    return "<div>provenance: " + html.escape("; ".join(parts)) + "</div>"
