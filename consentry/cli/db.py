"""``consentry db``: database maintenance."""

from __future__ import annotations

import click

from consentry.cli.common import common_options, emit, handle_errors, state


@click.group("db")
def command() -> None:
    """Database maintenance."""


@command.command("upgrade")
@common_options
@handle_errors
def upgrade_cmd() -> None:
    """Create or migrate the database to the current schema."""
    db = state().database()  # opening migrates (and fails with exit 2 if it cannot)
    if state().json:
        emit({"status": "ok", "db": db.display_url})
    else:
        click.echo(f"database is current: {db.display_url}")
