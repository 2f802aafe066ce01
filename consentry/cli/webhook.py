"""``consentry webhook``: add, list and remove webhooks; list and replay dead deliveries."""

from __future__ import annotations

import click

from consentry.cli.common import common_options, emit, handle_errors, state
from consentry.store.db import current_actor


@click.group("webhook")
def command() -> None:
    """Webhooks: signed POSTs of verdicts and decisions, retried, dead letters replayable."""


@command.command("add")
@click.argument("url")
@click.option("--secret", required=True, help="Shared secret for the HMAC signature (16+ characters).")
@click.option("--events", default="verdict", show_default=True, help="Comma-separated: verdict,decision.")
@common_options
@handle_errors
def add_cmd(url: str, secret: str, events: str) -> None:
    """Send these events to URL."""
    from consentry.actions import webhooks

    info = webhooks.add_webhook(state().database(), url, secret,
                                [e.strip() for e in events.split(",") if e.strip()], current_actor())
    emit(info.as_json()) if state().json else click.echo(f"webhook {info.webhook_id} -> {info.url}")


@command.command("list")
@common_options
@handle_errors
def list_cmd() -> None:
    """Every webhook (never its secret)."""
    from consentry.actions import webhooks

    for info in webhooks.list_webhooks(state().database()):
        if state().json:
            emit(info.as_json())
        else:
            click.echo(f"{info.webhook_id}\t{','.join(info.events)}\t{info.url}")


@command.command("remove")
@click.argument("webhook_id", type=int)
@common_options
@handle_errors
def remove_cmd(webhook_id: int) -> None:
    """Remove a webhook and its queued deliveries."""
    from consentry.actions import webhooks

    webhooks.remove_webhook(state().database(), webhook_id, current_actor())
    click.echo(f"removed webhook {webhook_id}")


@command.command("dead")
@common_options
@handle_errors
def dead_cmd() -> None:
    """Deliveries that failed every try (dead letters)."""
    from consentry.actions import webhooks

    for info in webhooks.deliveries(state().database(), "dead"):
        if state().json:
            emit(info.as_json())
        else:
            click.echo(f"{info.delivery_id}\t{info.webhook_id}\t{info.event}\t{info.attempts}\t{info.last_error}")


@command.command("replay")
@click.argument("delivery_ids", type=int, nargs=-1)
@common_options
@handle_errors
def replay_cmd(delivery_ids: tuple[int, ...]) -> None:
    """Queue dead deliveries again (these ids, or all of them)."""
    from consentry.actions import webhooks

    n = webhooks.replay(state().database(), list(delivery_ids) or None, current_actor())
    emit({"replayed": n}) if state().json else click.echo(f"{n} deliveries queued again")
