"""``consentry key``: API keys of the service (create prints the key once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from consentry.cli.common import common_options, emit, handle_errors, state
from consentry.store.db import current_actor
from consentry.store.keys import ROLES


@click.group("key")
def command() -> None:
    """API keys of the service: create, list, revoke, grant feeds."""


@command.command("create")
@click.option("--name", required=True, help="Who or what uses the key (shown in the audit log).")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the key may do.")
@click.option("--expires-days", type=click.IntRange(min=1), help="Expire after this many days.")
@click.option("--rate-per-minute", type=click.IntRange(min=0),
              help="This key's own request rate (0: unlimited).")
@common_options
@handle_errors
def create_cmd(name: str, role: str, expires_days: int | None, rate_per_minute: int | None) -> None:
    """Create a key and print it once (it is stored only as a hash)."""
    from consentry.store import keys

    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    key, info = keys.create(state().database(), name, role, current_actor(), expires_at=expires,
                            rate_per_minute=rate_per_minute)
    if state().json:
        emit({"key": key, **info.as_json()})
    else:
        click.echo(key)
        click.echo(f"key {info.key_id} ({role}) created; this is the only time it is shown", err=True)


@command.command("list")
@common_options
@handle_errors
def list_cmd() -> None:
    """Every key: id, name, role, expiry, revoked (never the key itself)."""
    from consentry.store import keys

    for info in keys.list_keys(state().database()):
        if state().json:
            emit(info.as_json())
        else:
            status = "active" if info.active() else ("revoked" if info.revoked_at else "expired")
            expires = info.expires_at.isoformat()[:19] if info.expires_at else "-"
            click.echo(f"{info.key_id}\t{info.role}\t{status}\t{expires}\t{info.name}")


@command.command("revoke")
@click.argument("key_id")
@common_options
@handle_errors
def revoke_cmd(key_id: str) -> None:
    """Revoke a key at once (a running server forgets it within seconds)."""
    from consentry.store import keys

    info = keys.revoke(state().database(), key_id, current_actor())
    emit(info.as_json()) if state().json else click.echo(f"revoked {info.key_id}")


@command.command("grant")
@click.argument("key_id")
@click.option("--bank", required=True, help="The bank whose feed this partner key may read.")
@common_options
@handle_errors
def grant_cmd(key_id: str, bank: str) -> None:
    """Let a partner key read a bank's feed (GET /v1/feeds/BANK)."""
    from consentry.match.banks import service as banks
    from consentry.store import keys

    db = state().database()
    banks.require(db, bank)
    keys.grant_feed(db, key_id, bank, current_actor())
    if state().json:
        emit({"key_id": key_id, "bank": bank})
    else:
        click.echo(f"{key_id} may read the feed of {bank}")


