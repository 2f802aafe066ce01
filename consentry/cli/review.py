"""``consentry review``: the review service's housekeeping from the command line."""

from __future__ import annotations

import click

from consentry.cli.common import common_options, emit, handle_errors, state


@click.group("review")
def command() -> None:
    """Human review housekeeping: purge retained media past its schedule."""


@command.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@common_options
@handle_errors
def purge_cmd(dry_run: bool) -> None:
    """Delete now every media file kept for review whose time is up (decided, and past the
    configured days), with its wrapped key; one audit row (review.media_purge) names the items.
    The service does this on its own too (job workers after each batch, the UI once a minute);
    this is for a service that is stopped or idle. Needs no key: deleting reads nothing."""
    from consentry.store import retention
    from consentry.store.db import current_actor

    db = state().database()
    if dry_run:
        items = [r.item_id for r in retention.due(db)]
    else:
        items = retention.purge_expired(db, actor=current_actor())
    if state().json:
        emit({"purged": 0 if dry_run else len(items), "items": items, "dry_run": dry_run})
    else:
        verb = "would delete" if dry_run else "deleted"
        click.echo(f"{verb} the kept media of {len(items)} item(s)"
                   + (f": {', '.join(map(str, items))}" if items else ""))
