"""What every command promises a user: help text on every option, `--help` listing every
command without importing it, `--db` only where a database is opened, and derived flags that
belong to real signals."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import click
import pytest

from consentry.cli.main import COMMANDS, SHORT_HELP, cli
from consentry.signals import catalog
from consentry.signals.options import NoOptions

# Commands that never open a database: offering --db there would only mislead.
NO_DATABASE = {"samples", "hash", "hash-page", "train-detector", "eval"}


def _commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(cli)
    out = []
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        stack = [(name, command)]
        while stack:
            path, cmd = stack.pop()
            out.append((path, cmd))
            if isinstance(cmd, click.Group):
                stack.extend((f"{path} {sub}", cmd.get_command(ctx, sub)) for sub in cmd.list_commands(ctx))
    return out


def test_every_command_is_listed_with_its_short_help() -> None:
    assert set(SHORT_HELP) >= set(COMMANDS), set(COMMANDS) - set(SHORT_HELP)


@pytest.mark.parametrize(("path", "command"), _commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_option_has_help(path: str, command: click.Command) -> None:
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"`consentry {path}` option {param.opts} has no help text"


@pytest.mark.parametrize("name", sorted(NO_DATABASE))
def test_commands_without_a_database_do_not_offer_db(name: str) -> None:
    for path, command in _commands():
        if path.split()[0] == name:
            assert not any("--db" in p.opts for p in command.params if isinstance(p, click.Option)), path


def test_help_imports_no_command_module() -> None:
    code = ("import sys; from consentry.cli.main import cli\n"
            "try:\n    cli.main(['--help'], prog_name='consentry')\nexcept SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('consentry.cli.') and "
            "m not in ('consentry.cli.main', 'consentry.cli.common', 'consentry.cli.crash')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_signal_options_match_the_catalogue_and_have_unique_flags() -> None:
    seen: set[str] = set()
    for name in catalog.SIGNALS:
        cls = catalog.signal_class(name)
        assert cls.Options is catalog.OPTIONS.get(name, NoOptions), name
        for field in dataclasses.fields(cls.Options):
            assert field.name not in seen, f"two signals offer --{field.name}"
            assert field.metadata.get("help"), f"{name}.{field.name} has no help"
            seen.add(field.name)
