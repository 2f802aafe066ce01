"""``consentry samples DIR``: write the demo media (made by our own code, no downloads)."""

from __future__ import annotations

from pathlib import Path

import click

from consentry.cli.common import emit, fail, handle_errors, json_option, state


@click.command("samples")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option("--force", is_flag=True, help="Write into FOLDER even if it already holds files "
              "(sample files of the same names are overwritten).")
@json_option
@handle_errors
def command(folder: Path, force: bool) -> None:
    """Generate sample images and videos for a demo scan (made by our own code, no downloads)."""
    from consentry.testing.samples import write_samples

    if not force and folder.is_dir() and any(folder.iterdir()):
        fail(f"{folder} is not empty: choose a new folder, or --force to write into it")

    written = write_samples(folder)
    for path in written:
        if state().json:
            emit({"path": str(path)})
    if not state().json:
        click.echo(f"wrote {len(written)} sample files to {folder}")
