"""``consentry audit``: read and verify the hash-chained audit log."""

from __future__ import annotations

import sys

import click

from consentry.cli.common import EXIT_FLAGGED, common_options, emit, handle_errors, state
from consentry.names import terminal_text


@click.group("audit")
def command() -> None:
    """The audit log: list rows, verify the chain."""


@command.command("list")
@click.option("--action", help="Only rows of this action (e.g. bank.add, likeness.match).")
@click.option("--subject", help="Only rows about this subject (e.g. person:3).")
@click.option("--after", "after_id", type=int, default=0, help="Rows after this id.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="How many of the newest audit rows to list.")
@common_options
@handle_errors
def list_cmd(action: str | None, subject: str | None, after_id: int, limit: int) -> None:
    """Audit rows, oldest first, with their chain hashes."""
    from consentry.store import audit

    with state().database().session() as session:
        rows = audit.rows(session, action=action, subject=subject, after_id=after_id, limit=limit)
    for row in rows:
        if state().json:
            emit(row.as_json())
        else:
            sys.stdout.write(f"{row.entry_id}\t{row.as_json()['at'][:19]}\t{terminal_text(row.actor)}\t"
                             f"{row.action}\t{terminal_text(row.subject)}\t{(row.row_hash or '')[:12]}\n")


@command.command("verify")
@common_options
@handle_errors
def verify_cmd() -> None:
    """Check every row's hash and link; exit 1 naming the first bad row if any row was
    edited, deleted or inserted."""
    from consentry.store import audit

    with state().database().session() as session:
        result = audit.verify(session)
    if state().json:
        emit(result.as_json())
    elif result.ok:
        click.echo(f"audit chain intact: {result.rows} rows ({result.redacted} redacted by removals)")
    else:
        click.echo(f"audit chain broken at row {result.bad_row}: {result.problem}", err=True)
    if not result.ok:
        sys.exit(EXIT_FLAGGED)
