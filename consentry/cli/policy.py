"""``consentry policy``: check a policy file, show the shipped default."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from consentry.cli.common import common_options, emit, handle_errors, state
from consentry.policy.loader import default_text, load_default, load_file
from consentry.policy.spec import PolicySpec


@click.group("policy")
def command() -> None:
    """Policies: the rules that turn findings into block / review / label / allow."""


@command.command("check")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@common_options
@handle_errors
def check_cmd(path: Path) -> None:
    """Validate a policy file and print its rules (exit 2 with line and reason if wrong)."""
    _print(load_file(path))


@command.command("show")
@click.option("--toml", "as_toml", is_flag=True, help="Print the default policy file itself "
              "(a starting point for your own).")
@common_options
@handle_errors
def show_cmd(as_toml: bool) -> None:
    """The default policy that `consentry scan` applies unless --policy is given."""
    if as_toml:
        sys.stdout.write(default_text())
        return
    _print(load_default())


def _print(spec: PolicySpec) -> None:
    if state().json:
        emit({"status": "ok", **spec.as_json()})
        return
    console = Console()
    console.print(f"policy [b]{spec.name}[/b] ({spec.source}, sha256 {spec.digest[:12]}): "
                  f"{len(spec.rules)} rules, reads {', '.join(sorted(spec.signals()))}")
    table = Table("line", "rule", "when", "then", "label", "overrides")
    for rule in spec.rules:
        then = rule.action + (f" ({rule.priority})" if rule.priority else "")
        table.add_row(str(rule.line), rule.id, escape(rule.when.describe()), then,
                      rule.label or "", ", ".join(rule.overrides))
    console.print(table)
    if spec.gates:  # the cascade: signals that run only when a gate holds
        gates = Table("line", "signal", "runs only when", "otherwise, the verdict says")
        for gate in spec.gates:
            gates.add_row(str(gate.line), gate.signal, escape(gate.when.describe()),
                          escape(gate.message))
        console.print(gates)
