"""``consentry user``: people's accounts for the review UI (/ui). API keys are for machines
(``consentry key``); a person signs in with a name and a password (stored as an argon2 hash)."""

from __future__ import annotations

import click

from consentry.cli.common import common_options, emit, handle_errors, state
from consentry.store.db import current_actor
from consentry.store.review import PEOPLE_ROLES


@click.group("user")
def command() -> None:
    """People's accounts for the review UI: create, list."""


@command.command("create")
@click.option("--name", required=True, help="The name the person signs in with.")
@click.option("--role", type=click.Choice(PEOPLE_ROLES), required=True,
              help="reviewer decides; senior_reviewer also takes escalations and appeals and sees "
                   "likeness matches; operator and admin view.")
@click.option("--password", help="At least 12 characters (prompted, hidden, when not given).")
@common_options
@handle_errors
def create_cmd(name: str, role: str, password: str | None) -> None:
    """Create an account (the password is never shown or stored as such)."""
    from consentry.store import review

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    person = review.create_person(state().database(), name, role, password or "", current_actor())
    if state().json:
        emit({"name": person.name, "role": person.role})
    else:
        click.echo(f"{person.name} ({person.role}) may now sign in at /ui")


@command.command("list")
@common_options
@handle_errors
def list_cmd() -> None:
    """Every account: name and role (never a password)."""
    from consentry.store import review

    for person in review.list_people(state().database()):
        emit({"name": person.name, "role": person.role}) if state().json else \
            click.echo(f"{person.name}\t{person.role}")
