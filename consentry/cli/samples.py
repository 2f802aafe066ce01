"""``consentry samples DIR``: write the demo media (made by our own code, no downloads)."""

from __future__ import annotations

from pathlib import Path

import click

from consentry.cli.common import common_options, emit, handle_errors, state


@click.command("samples")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@common_options
@handle_errors
def command(folder: Path) -> None:
    """Generate sample images and videos for a demo scan."""
    from consentry.testing.samples import write_samples

    written = write_samples(folder)
    for path in written:
        if state().json:
            emit({"path": str(path)})
    if not state().json:
        click.echo(f"wrote {len(written)} sample files to {folder}")
