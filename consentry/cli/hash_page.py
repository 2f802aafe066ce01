"""``consentry hash-page -o hash.html``: write the offline hashing page a victim opens in a
browser (no install, no upload; see docs/banks.md)."""

from __future__ import annotations

from pathlib import Path

import click

from consentry.cli.common import emit, handle_errors, json_option, state
from consentry.hashpage import build_page


@click.command("hash-page")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Where to write the page (one self-contained HTML file).")
@click.option("--helpline", metavar="URL", default=None,
              help="Your helpline service's address (https://host): the page then offers to send "
              "the hashes there and gives the victim a case number and PIN. Off by default.")
@json_option
@handle_errors
def command(output: Path, helpline: str | None) -> None:
    """Write a self-contained HTML page that hashes images (PDQ + MD5) offline in the browser."""
    output.write_text(build_page(helpline), encoding="utf-8")
    if state().json:
        emit({"status": "ok", "output": str(output), "helpline": helpline})
    else:
        sent = f"; it can send the hashes (never the images) to {helpline}" if helpline else ""
        click.echo(f"wrote {output}: open it in a browser; images never leave the device{sent}")
