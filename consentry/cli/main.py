"""The ``consentry`` command."""

from __future__ import annotations

import importlib
import logging

import click

from consentry import __version__
from consentry.cli.common import CliState, common_options

# Command groups live in their own modules; each module exposes ``command``.
COMMANDS = [
    "consentry.cli.scan",
    "consentry.cli.scans",
    "consentry.cli.db",
    "consentry.cli.samples",
    "consentry.cli.bank",
    "consentry.cli.hash",
    "consentry.cli.hash_page",
    "consentry.cli.person",
    "consentry.cli.policy",
    "consentry.cli.detector",
    "consentry.cli.train_detector",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@common_options
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="consentry")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Consentry: find and stop non-consensual intimate imagery and sexual deepfakes."""
    ctx.ensure_object(CliState)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")


for _module in COMMANDS:
    cli.add_command(importlib.import_module(_module).command)


def main() -> None:
    cli(prog_name="consentry")
