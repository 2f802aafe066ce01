"""The ``consentry`` command."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys

import click

from consentry import __version__
from consentry.cli.common import CliState, common_options
from consentry.cli.crash import debug_option, internal_error

# 128 + SIGINT, as shells report an interrupted command; click's own 1 would read as
# "something flagged" to a script.
EXIT_INTERRUPTED = 130

# Command groups live in their own modules; each module exposes ``command``. They are
# imported only when run (or listed by --help), so `consentry scan` starts without loading
# what other commands need.
COMMANDS = {
    "scan": "consentry.cli.scan",
    "backfill": "consentry.cli.backfill",
    "scans": "consentry.cli.scans",
    "db": "consentry.cli.db",
    "samples": "consentry.cli.samples",
    "bank": "consentry.cli.bank",
    "hash": "consentry.cli.hash",
    "exchange": "consentry.cli.exchange",
    "hash-page": "consentry.cli.hash_page",
    "case": "consentry.cli.case",
    "person": "consentry.cli.person",
    "policy": "consentry.cli.policy",
    "eval": "consentry.cli.evaluate",
    "train-detector": "consentry.cli.train_detector",
    "serve": "consentry.cli.serve",
    "key": "consentry.cli.key",
    "audit": "consentry.cli.audit",
    "webhook": "consentry.cli.webhook",
    "user": "consentry.cli.user",
    "report": "consentry.cli.report",
    "review": "consentry.cli.review",
}


# What `consentry --help` lists, so that it does not import every command (a test checks these
# against each command's own help).
SHORT_HELP = {
    "backfill": "Backfills of everything already hosted: resumable, each item stored once.",
    "bank": "Hash banks: create, list, add, import, export, withdraw.",
    "db": "The database: where it is, and its schema version.",
    "eval": "Evaluate the detectors on labelled data.",
    "exchange": "Follow hash lists from other systems into banks.",
    "hash": "Victim-side hashing: hashes only, the media never leaves the device.",
    "hash-page": "Write the offline hashing page for a browser.",
    "case": "Victims' cases: submit hashes to a helpline; list, show, note, share, withdraw.",
    "person": "The likeness registry of people who consented to protection.",
    "policy": "Show and check policies (findings to verdicts).",
    "samples": "Generate sample media for a demo scan.",
    "scan": "Scan images, videos and folders; store and print what was found.",
    "scans": "Past scans and their results.",
    "train-detector": "Retrain the manipulation detector.",
    "serve": "Serve the HMA-compatible and native HTTP API (docs/service.md).",
    "key": "API keys of the service: create, list, revoke, grant feeds.",
    "audit": "The audit log: list rows, verify the chain.",
    "webhook": "Webhooks: signed POSTs of verdicts and decisions, retried, dead letters replayable.",
    "user": "People's accounts for the review UI (/ui): create, list.",
    "report": "Reports from the database: an item's evidence for a takedown or the police.",
    "review": "Human review housekeeping: purge retained media past its schedule.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP.get(name) or self._short_help(ctx, name)) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _short_help(self, ctx: click.Context, name: str) -> str:
        command = self.get_command(ctx, name)
        return command.get_short_help_str() if command else ""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command: click.Command = importlib.import_module(module).command
        return command


@click.group(cls=LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@common_options
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@debug_option
@click.version_option(__version__, prog_name="consentry")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Consentry: find and stop non-consensual intimate imagery and sexual deepfakes."""
    ctx.ensure_object(CliState)
    ctx.call_on_close(ctx.obj.close)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    try:
        result = cli.main(prog_name="consentry", standalone_mode=False)
        status = result if isinstance(result, int) else 0
    except click.exceptions.Abort:  # Ctrl-C
        click.echo("Aborted!", err=True)
        status = EXIT_INTERRUPTED
    except click.ClickException as exc:  # usage errors, as click itself shows them
        exc.show()
        status = exc.exit_code
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except KeyboardInterrupt:  # Ctrl-C outside click's own handling
        click.echo("Aborted!", err=True)
        status = EXIT_INTERRUPTED
    except Exception as exc:  # a bug: exit 2 (never 1, "something flagged"), traceback logged
        status = internal_error(exc)
    # Output is flushed and the database closed (on click's context close) by now: skip the
    # interpreter's teardown of the hundreds of loaded modules, 0.1-0.2 s of every command.
    with contextlib.suppress(OSError):  # e.g. stdout piped into `head`
        sys.stdout.flush()
        sys.stderr.flush()
    logging.shutdown()
    os._exit(status)


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # what sys.exit("message") prints
    return 2  # an error; Python's own 1 would read as "something flagged"
