"""``consentry person``: the likeness registry of people who asked to be protected.

Deliberately absent: any command that takes a photo and says who is in it, or that lists
where a person appears. Enrolled faces are only ever compared with the operator's own scans
(``consentry scan``), and every such match is audited.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from consentry.cli.common import common_options, emit, handle_errors, state
from consentry.store.db import current_actor


def _service():  # type: ignore[no-untyped-def]
    from consentry.signals.faces.dlib_files import unavailable_reason

    if reason := unavailable_reason():
        from consentry.errors import ConfigError

        raise ConfigError(f"the likeness registry needs the faces models: {reason}")
    from consentry.match.likeness import service

    return service


@click.group("person")
def command() -> None:
    """Enrol, list, show and remove people protected by the likeness registry (with consent)."""


@command.command("enrol")
@click.option("--name", required=True, help="Name or label of the person (shown in matches).")
@click.option("--consent", "attestation", required=True, metavar="TEXT",
              help='Who attested the consent and how, e.g. "the person, signed form, in person".')
@click.option("--consent-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The signed consent document: its SHA-256 is recorded, the file is not stored.")
@click.option("--review-date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="When the consent must be reviewed (default: one year from today).")
@click.option("--photos", "photos", required=True, multiple=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="Photos of the person, each showing exactly one face (repeat or list several).")
@click.argument("more_photos", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@common_options
@handle_errors
def enrol_cmd(name: str, attestation: str, consent_file: Path | None, review_date, photos: tuple[Path, ...],  # type: ignore[no-untyped-def]
              more_photos: tuple[Path, ...]) -> None:
    """Enrol a consenting person from photos of their face (descriptors are stored, photos
    are not). Every photo must show exactly one usable face, or nothing is stored."""
    service = _service()
    review: date | None = review_date.date() if review_date else None
    with state().database().session() as session:
        person = service.enrol(session, name=name, attestation=attestation,
                               photos=[*photos, *more_photos], actor=current_actor(),
                               consent_file=consent_file, review_date=review)
        out = service.person_json(person)
    if state().json:
        emit({"status": "enrolled", **out})
    else:
        click.echo(f"enrolled person {out['person']} ({out['name']}) from {out['faces']} photo(s); "
                   f"consent review due {out['review_date']}")


@command.command("list")
@common_options
@handle_errors
def list_cmd() -> None:
    """Every enrolled person, with the number of faces and the consent review date."""
    service = _service()
    with state().database().session() as session:
        rows = [service.person_json(p) for p in service.list_persons(session)]
    if state().json:
        for row in rows:
            emit(row)
        return
    table = Table("id", "name", "faces", "enrolled", "review date")
    for row in rows:
        due = " (due)" if row["review_due"] else ""
        table.add_row(str(row["person"]), row["name"], str(row["faces"]),
                      str(row["enrolled_at"])[:10], f"{row['review_date']}{due}")
    Console().print(table)


@command.command("show")
@click.argument("person_id", type=int)
@common_options
@handle_errors
def show_cmd(person_id: int) -> None:
    """One person's consent records (never their face descriptors)."""
    service = _service()
    with state().database().session() as session:
        out = service.person_json(service.get_person(session, person_id), detail=True)
    if state().json:
        emit(out)
        return
    click.echo(f"person {out['person']}: {out['name']}, {out['faces']} face(s), enrolled "
               f"{str(out['enrolled_at'])[:19]} by {out['enrolled_by']}")
    for consent in out["consents"]:
        doc = f", document {consent['document']} sha256 {consent['document_sha256']}" \
            if consent["document"] else ""
        click.echo(f"  consent: {consent['attestation']} (recorded by {consent['recorded_by']}"
                   f"{doc}); review {consent['review_date']}")


@command.command("remove")
@click.argument("person_id", type=int)
@click.option("--reason", help="Why (kept in the audit log).")
@common_options
@handle_errors
def remove_cmd(person_id: int, reason: str | None) -> None:
    """Remove a person: their face descriptors and consent records are deleted (audited)."""
    service = _service()
    with state().database().session() as session:
        deleted = service.remove(session, person_id, actor=current_actor(), reason=reason)
    if state().json:
        emit({"status": "removed", "person": person_id, "embeddings_deleted": deleted})
    else:
        click.echo(f"removed person {person_id}; {deleted} face descriptor(s) deleted")
