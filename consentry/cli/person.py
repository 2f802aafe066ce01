"""``consentry person``: the likeness registry of people who asked to be protected.

Deliberately absent: any command that takes a photo and says who is in it, or that lists
where a person appears. Enrolled faces are only ever compared with the operator's own scans
(``consentry scan``), and every such match is audited.

Enrolment photos go through the scan's own analysis (``faces`` signal): the faces enrolled
are found, aligned and graded exactly as the faces they will be compared with.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from consentry.cli.common import common_options, emit, handle_errors, state
from consentry.store.db import current_actor

if TYPE_CHECKING:
    from consentry.match.likeness.consent import ConsentRequest
    from consentry.match.likeness.service import EnrolmentPhoto

METHOD_CHOICES = ("in-person", "video-call", "signed-document", "helpline-case")


def _service():  # type: ignore[no-untyped-def]
    from consentry.signals.faces.dlib_files import unavailable_reason

    if reason := unavailable_reason():
        from consentry.errors import ConfigError

        raise ConfigError(f"the likeness registry needs the faces models: {reason}")
    from consentry.match.likeness import service

    return service


def analyse_photos(paths: list[Path]) -> list[EnrolmentPhoto]:
    """The faces the scan's analysis finds in each photo (in the order given)."""
    from consentry.match.likeness.service import EnrolmentPhoto
    from consentry.pipeline.runner import analyse_paths
    from consentry.settings import ScanSettings
    from consentry.signals import catalog
    from consentry.signals.face_types import FacesPayload
    from consentry.types import MediaKind

    settings = ScanSettings(signals=("faces",))
    photos = []
    # In a worker process, as in a scan: a photo that crashes its decoder is refused, and
    # does not take the command down.
    for report in analyse_paths(paths, settings, catalog.resolve(("faces",)), workers=2):
        result = report.results.get("faces")
        payload = result.payload if result is not None else None
        problem = None
        if report.error:
            problem = f"cannot use the photo ({report.error})"
        elif report.kind is not MediaKind.IMAGE:
            problem = "not an image (enrol from photos: JPEG, PNG, WebP, HEIC...)"
        elif "faces" in report.signal_errors:
            problem = report.signal_errors["faces"]
        faces = tuple(d for t in payload.tracks for d in t.detections) \
            if isinstance(payload, FacesPayload) else ()
        photos.append(EnrolmentPhoto(report.path, report.sha256, faces, problem))
    order = {path: i for i, path in enumerate(paths)}
    return sorted(photos, key=lambda p: order.get(p.path, len(order)))


def _consent(method: str, note: str, review_date: datetime | None,
             consent_file: Path | None) -> ConsentRequest:
    from consentry.match.likeness.consent import ConsentRequest

    return ConsentRequest(method, note, review_date.date() if review_date else None, consent_file)


@click.group("person")
def command() -> None:
    """Enrol, renew, list, show and remove people protected by the likeness registry."""


def consent_options(fn):  # type: ignore[no-untyped-def]
    options = [
        click.option("--consent-method", "method", required=True, type=click.Choice(METHOD_CHOICES),
                     help="How the person's consent and identity were verified."),
        click.option("--consent", "note", required=True, metavar="TEXT",
                     help='The consent in words, e.g. "the person, signed form 2026-114, '
                     'witnessed by a second case worker". You, the OS account running this, '
                     "are recorded as the one who attests it."),
        click.option("--consent-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
                     help="The signed consent document: its SHA-256 is recorded, the file is not "
                     "stored."),
        click.option("--review-date", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
                     help="The day the consent expires and must be reviewed (in the future, at "
                     "most 5 years ahead). From that day the person is no longer matched."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@command.command("enrol")
@click.option("--name", required=True, help="Name or label of the person (shown in matches).")
@consent_options
@click.option("--photos", "photos", required=True, multiple=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="Photos of the person, each showing exactly one face (repeat or list several).")
@click.argument("more_photos", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True,
              help="Enrol even though a face matches a person already enrolled (audited).")
@common_options
@handle_errors
def enrol_cmd(name: str, method: str, note: str, consent_file: Path | None,  # type: ignore[no-untyped-def]
              review_date, photos: tuple[Path, ...], more_photos: tuple[Path, ...],
              force: bool) -> None:
    """Enrol a consenting person from photos of their face (descriptors are stored, photos
    are not). Every photo must show exactly one usable face, or nothing is stored."""
    service = _service()
    from consentry.match.likeness.consent import check_consent

    consent = _consent(method, note, review_date, consent_file)
    check_consent(consent, datetime.now(UTC).date())  # refuse before analysing the photos
    found = analyse_photos([*photos, *more_photos])
    enrolment = service.enrol(state().database(), name=name, consent=consent, photos=found,
                              actor=current_actor(), force=force)
    out = enrolment.person.as_json()
    if enrolment.duplicates_forced:
        click.echo(f"warning: {enrolment.duplicates_forced} photo(s) match a person already "
                   "enrolled; enrolled anyway (--force, audited)", err=True)
    if state().json:
        emit({"status": "enrolled", **out, "duplicates_forced": enrolment.duplicates_forced})
    else:
        click.echo(f"enrolled person {out['person']} ({out['name']}) from {out['faces']} photo(s); "
                   f"consent expires {out['review_date']}")


@command.command("renew")
@click.argument("person_id", type=int)
@consent_options
@common_options
@handle_errors
def renew_cmd(person_id: int, method: str, note: str, consent_file: Path | None,  # type: ignore[no-untyped-def]
              review_date) -> None:
    """Record a renewed consent (a new review date) for an enrolled person."""
    service = _service()
    consent = _consent(method, note, review_date, consent_file)
    out = service.renew(state().database(), person_id, consent, actor=current_actor()).as_json()
    if state().json:
        emit({"status": "renewed", **out})
    else:
        click.echo(f"person {out['person']}: consent renewed until {out['review_date']}")


@command.command("list")
@common_options
@handle_errors
def list_cmd() -> None:
    """Every enrolled person, with the number of faces and the consent review date."""
    service = _service()
    rows = [p.as_json() for p in service.list_persons(state().database())]
    if state().json:
        for row in rows:
            emit(row)
        return
    table = Table("id", "name", "faces", "enrolled", "consent expires")
    for row in rows:
        due = " (expired: not matched)" if row["review_due"] else ""
        table.add_row(str(row["person"]), escape(row["name"]), str(row["faces"]),
                      str(row["enrolled_at"])[:10], f"{row['review_date']}{due}")
    Console().print(table)


@command.command("show")
@click.argument("person_id", type=int)
@common_options
@handle_errors
def show_cmd(person_id: int) -> None:
    """One person's consent records (never their face descriptors)."""
    service = _service()
    out = service.get_person(state().database(), person_id).as_json(detail=True)
    if state().json:
        emit(out)
        return
    click.echo(f"person {out['person']}: {out['name']}, {out['faces']} face(s), enrolled "
               f"{str(out['enrolled_at'])[:19]} by {out['enrolled_by']}")
    for consent in out["consents"]:
        doc = f", document {consent['document']} sha256 {consent['document_sha256']}" \
            if consent["document"] else ""
        click.echo(f"  consent ({consent['method']}): {consent['note']} (attested by "
                   f"{consent['attested_by']}{doc}); expires {consent['review_date']}")


@command.command("remove")
@click.argument("person_id", type=int)
@click.option("--reason", help="Why (kept in the audit log; do not name the person).")
@common_options
@handle_errors
def remove_cmd(person_id: int, reason: str | None) -> None:
    """Remove a person: their face descriptors and consent records are deleted, and stored
    results and audit entries keep only a pseudonym in place of their id and name."""
    service = _service()
    removal = service.remove(state().database(), person_id, actor=current_actor(), reason=reason)
    if state().json:
        emit({"status": "removed", "person": person_id,
              "embeddings_deleted": removal.embeddings_deleted,
              "items_rewritten": removal.items_rewritten})
    else:
        click.echo(f"removed person {person_id}; {removal.embeddings_deleted} face descriptor(s) "
                   f"deleted, {removal.items_rewritten} stored result(s) made pseudonymous")
