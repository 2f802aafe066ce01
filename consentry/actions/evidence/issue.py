"""Make an item's evidence report (PDF, HTML or both) and record it in the audit log: one
``evidence.report`` row about the item, holding the SHA-256 of each file made and the head of
the chain the report pins, so a copy handed on can be matched to the row that issued it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from consentry.actions.evidence.content import document
from consentry.actions.evidence.gather import EVIDENCE_ACTION, ItemEvidence, gather
from consentry.actions.evidence.html import render_html
from consentry.actions.evidence.pdf import render_pdf
from consentry.actions.evidence.thumbnail import strongly_blurred
from consentry.store import audit
from consentry.store.db import Database


@dataclass(frozen=True)
class Issued:
    evidence: ItemEvidence
    pdf: bytes | None
    html: str | None


def issue(db: Database, item_id: int, *, actor: str, pdf: bool = True, html: bool = True,
          image: bytes | None = None) -> Issued:
    """``image``: a still of the item's retained media (already blurred or not): given only when
    the reviewer chose a thumbnail; it is greyscaled and strongly blurred here either way."""
    thumb = strongly_blurred(image) if image is not None else None
    ev = gather(db, item_id, actor=actor, thumbnail_jpeg=thumb)
    doc = document(ev)
    pdf_bytes = render_pdf(doc) if pdf else None
    html_text = render_html(doc) if html else None
    digests = {}
    if pdf_bytes is not None:
        digests["pdf_sha256"] = hashlib.sha256(pdf_bytes).hexdigest()
    if html_text is not None:
        digests["html_sha256"] = hashlib.sha256(html_text.encode()).hexdigest()
    with db.session() as session:
        audit.record(session, actor, EVIDENCE_ACTION, f"item:{item_id}", head=ev.head.entry_id,
                     head_hash=ev.head.row_hash, thumbnail=thumb is not None, **digests)
    return Issued(ev, pdf_bytes, html_text)
