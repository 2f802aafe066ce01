"""``consentry case``: victims' cases (docs/cases.md).

``case submit FILE --to URL`` is the victim's side: it sends a submission file (hashes only,
written by ``consentry hash``) to a helpline's service and prints the case number and PIN; it
opens no database. ``case list``, ``show``, ``note``, ``consent``, ``share`` and ``withdraw``
are the helpline staff's, on the database (audited under the account running them).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from consentry.cli.common import common_options, emit, fail, handle_errors, json_option, state

_BANK = click.option("--bank", "bank", default=None, metavar="NAME",
                     help="The case bank (default: the service's, helpline-cases).")


@click.group("case")
def command() -> None:
    """Victims' cases: submit hashes to a helpline; list, show, note, share, withdraw."""


def _where(bank: str | None):  # type: ignore[no-untyped-def]
    from consentry.actions.cases import CASE_BANK, SHARE_BANK, CaseBanks

    return CaseBanks(bank or CASE_BANK, SHARE_BANK)


@command.command("submit")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--to", "url", required=True, metavar="URL",
              help="The helpline's service, e.g. https://helpline.example.org")
@json_option  # no --db: the victim's device has none
@handle_errors
def submit_cmd(file: Path, url: str) -> None:
    """Send a submission file (hashes only) to a helpline: prints the case number and PIN.

    Keep both: the PIN is shown only once, and you need it to see or withdraw the case.
    """
    body = file.read_bytes()
    try:
        json.loads(body)
    except ValueError:
        fail(f"{file} is not a submission file (not JSON); make one with `consentry hash`")
    target = url.rstrip("/") + "/v1/cases"
    if not target.startswith(("https://", "http://")):
        fail("--to is the helpline's address, starting with https://")
    answer = _post(target, body)
    if state().json:
        emit({"status": "ok", "case": answer["case"], "pin": answer["pin"], "hashes": answer.get("hashes")})
    else:
        click.echo(f"case: {answer['case']}")
        click.echo(f"PIN:  {answer['pin']}")
        click.echo("Keep the case number and PIN somewhere safe: the PIN is shown only now. With "
                   f"both you can see the case and withdraw it ({url.rstrip('/')}).", err=True)


def _post(url: str, body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", "")
        except ValueError:
            message = ""
        fail(f"the helpline refused the submission ({exc.code}): {message or exc.reason}")
    except (urllib.error.URLError, OSError) as exc:
        fail(f"could not reach {url}: {getattr(exc, 'reason', exc)}")
    raise AssertionError("unreachable")


def _line(c: Any) -> str:
    matches = sum(n for _d, n in c.matches)
    consent = "consented" if c.consent_share else "-"
    shared = "shared" if c.shareable and c.shared_at else "-"
    return (f"{c.number}\t{c.status}\t{c.created_at.isoformat()[:10]}\t"
            f"{c.hashes.get('active', 0)} active\t{matches} matches\t{consent}\t{shared}")


@command.command("list")
@click.option("--status", type=click.Choice(("active", "withdrawn")), default=None,
              help="Only cases with this status.")
@_BANK
@common_options
@handle_errors
def list_cmd(status: str | None, bank: str | None) -> None:
    """Cases, newest first: number, status, opened, hashes, matches, consent, shared."""
    from consentry.actions import cases

    for c in cases.listing(state().database(), _where(bank), status=status):
        emit(c.staff_json()) if state().json else click.echo(_line(c))


@command.command("show")
@click.argument("number", type=int)
@_BANK
@common_options
@handle_errors
def show_cmd(number: int, bank: str | None) -> None:
    """One case with its contact notes."""
    from consentry.actions import cases

    found, notes = cases.show(state().database(), number, _where(bank))
    if state().json:
        emit({**found.staff_json(), "notes": [n.as_json() for n in notes]})
        return
    click.echo(_line(found))
    for d, n in found.matches:
        click.echo(f"  matches on {d.isoformat()}: {n}")
    if found.consent_at:
        click.echo(f"  consent to share: {'yes' if found.consent_share else 'no'} "
                   f"({found.consent_how or '-'}; recorded by {found.consent_by} "
                   f"{found.consent_at.isoformat()[:16]})")
    for note in notes:
        click.echo(f"  note {note.at.isoformat()[:16]} {note.author}: {note.text}")


@command.command("note")
@click.argument("number", type=int)
@click.argument("text")
@common_options
@handle_errors
def note_cmd(number: int, text: str) -> None:
    """Add a contact note to a case."""
    from consentry.actions import cases
    from consentry.store.db import current_actor

    cases.add_note(state().database(), number, current_actor(), text)
    emit({"status": "ok", "case": number}) if state().json else click.echo(f"noted on case {number}")


@command.command("consent")
@click.argument("number", type=int)
@click.option("--share/--no-share", required=True, help="The victim agrees (or no longer agrees) to share.")
@click.option("--how", default="", help="How consent was given (required with --share).")
@_BANK
@common_options
@handle_errors
def consent_cmd(number: int, share: bool, how: str, bank: str | None) -> None:
    """Record the victim's consent to share the case's hashes with partners (or its end)."""
    from consentry.actions import cases
    from consentry.store.db import current_actor

    cases.record_consent(state().database(), number, _where(bank), actor=current_actor(), given=share,
                         how=how)
    emit({"status": "ok", "case": number, "share": share}) if state().json else \
        click.echo(f"case {number}: consent to share {'recorded' if share else 'withdrawn'}")


@command.command("share")
@click.argument("number", type=int)
@_BANK
@common_options
@handle_errors
def share_cmd(number: int, bank: str | None) -> None:
    """Put a consented case's hashes in the share bank that partners follow."""
    from consentry.actions import cases
    from consentry.store.db import current_actor

    n = cases.share(state().database(), number, _where(bank), actor=current_actor())
    emit({"status": "ok", "case": number, "shared": n}) if state().json else \
        click.echo(f"case {number}: {n} hash(es) shared")


@command.command("withdraw")
@click.argument("number", type=int)
@click.option("--reason", required=True, help="Why (audited), e.g. 'the victim asked by phone'.")
@_BANK
@common_options
@handle_errors
def withdraw_cmd(number: int, reason: str, bank: str | None) -> None:
    """Withdraw a case: its hashes stop matching at once, here and in the partner feed."""
    from consentry.actions import cases
    from consentry.store.db import current_actor

    found = cases.withdraw(state().database(), number, _where(bank), actor=current_actor(), reason=reason)
    emit({"status": "ok", "case": number, "withdrawn": found.hashes.get("withdrawn", 0)}) \
        if state().json else click.echo(f"case {number} withdrawn")
