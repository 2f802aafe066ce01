"""``consentry db``: database maintenance."""

from __future__ import annotations

import click

from consentry.cli.common import common_options, emit, handle_errors, state
from consentry.store.db import upgrade


@click.group("db")
def command() -> None:
    """Database maintenance."""


@command.command("upgrade")
@common_options
@handle_errors
def upgrade_cmd() -> None:
    """Create or migrate the database to the current schema."""
    db = state().database()  # opening migrates
    upgrade(db)
    if state().json:
        emit({"status": "ok", "db": db.engine.url.render_as_string()})
    else:
        click.echo(f"database is current: {db.engine.url.render_as_string()}")
