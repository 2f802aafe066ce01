"""``consentry report``: reports made from what the database holds (docs/evidence.md)."""

from __future__ import annotations

from pathlib import Path

import click

from consentry.cli.common import common_options, emit, fail, handle_errors, state


@click.group("report")
def command() -> None:
    """Reports from the database: an item's evidence for a takedown or the police."""


def retained_still(item_id: int) -> bytes:
    """A blurred still of the item's media kept for review (the service's CONSENTRY_REVIEW_*
    settings say where and with which key), or a clear failure when none is kept."""
    from consentry.service.ui.media import picture
    from consentry.service.ui.settings import ReviewSettings

    db = state().database()
    vault = ReviewSettings.from_env().vault(db, db.sidecar_dir / "spool")
    if vault is None:
        fail("--thumbnail needs the media kept for review: retention is off "
             "(CONSENTRY_REVIEW_MEDIA=1 and CONSENTRY_REVIEW_MEDIA_KEY, as for consentry serve)")
    data = vault.read(item_id)  # type: ignore[union-attr]
    if data is None:
        fail(f"item {item_id}'s media is not kept (never kept, or its retention ended): "
             "make the report without --thumbnail")
    info = vault.info(item_id)  # type: ignore[union-attr]
    return picture(data, info.kind if info else None, revealed=False, percent=100)  # type: ignore[arg-type]


@command.command("evidence")
@click.argument("item_id", type=int)
@click.option("-o", "--output", "pdf_path", type=click.Path(path_type=Path, dir_okay=False),
              help="The PDF to write (default: evidence-item-ITEM_ID.pdf here, unless only --html).")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also (or only, without -o) write the report as one self-contained HTML file.")
@click.option("--thumbnail", is_flag=True,
              help="Include a greyscale, strongly blurred thumbnail (only while the service keeps "
              "the item's media for review). Without it the report holds no media at all.")
@common_options
@handle_errors
def evidence_cmd(item_id: int, pdf_path: Path | None, html_path: Path | None, thumbnail: bool) -> None:
    """One item's evidence: its hashes, sizes, times, source, every signal with its version,
    bank matches, the verdict, the decision and reviewer, and the audit rows about it with
    their chain hashes and the chain's head, to check against `consentry audit verify`.
    The report is itself recorded in the audit log (an evidence.report row with its SHA-256)."""
    from consentry.actions.evidence.issue import issue
    from consentry.store.db import current_actor

    if pdf_path is None and html_path is None:
        pdf_path = Path(f"evidence-item-{item_id}.pdf")
    image = retained_still(item_id) if thumbnail else None
    made = issue(state().database(), item_id, actor=current_actor(), pdf=pdf_path is not None,
                 html=html_path is not None, image=image)
    out: dict[str, object] = {"item_id": item_id, "head": made.evidence.head.entry_id,
                              "head_hash": made.evidence.head.row_hash,
                              "audit_rows": len(made.evidence.audit_rows),
                              "chain_ok": made.evidence.chain_ok, "thumbnail": image is not None}
    if pdf_path is not None and made.pdf is not None:
        pdf_path.write_bytes(made.pdf)
        out["pdf"] = str(pdf_path)
    if html_path is not None and made.html is not None:
        html_path.write_text(made.html, encoding="utf-8")
        out["html"] = str(html_path)
    if state().json:
        emit(out)
        return
    for key in ("pdf", "html"):
        if key in out:
            click.echo(f"{key}: {out[key]}")
    click.echo(f"{out['audit_rows']} audit rows about item {item_id}; chain head row {out['head']} "
               f"({'intact' if made.evidence.chain_ok else 'BROKEN: ' + str(made.evidence.chain_problem)})")
