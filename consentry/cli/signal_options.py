"""Command-line flags derived from each signal's options dataclass (consentry.signals.options):
``--`` + the field name with dashes, its help text, its type and minimum. A signal that gains
an option gains its flag here without touching the commands."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import click

from consentry.signals.catalog import OPTIONS

F = TypeVar("F", bound=Callable[..., Any])


def signal_names(_ctx: click.Context, _param: click.Parameter,
                 value: str | None) -> tuple[str, ...] | None:
    """``--signals a,b,c`` as a tuple of names (None: every installed signal)."""
    if value is None:
        return None
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise click.BadParameter("name at least one signal")
    return names


def _flag(signal: str, f: dataclasses.Field) -> Callable[[F], F]:
    name = "--" + f.name.replace("_", "-")
    help_text = f"{f.metadata.get('help', '')} [{signal}]"
    if f.type in (bool, "bool"):
        return click.option(name, f"opt_{signal}__{f.name}", is_flag=True, default=f.default,
                            help=help_text)
    kind = click.FloatRange(min=f.metadata.get("min")) if f.type in (float, "float") else None
    return click.option(name, f"opt_{signal}__{f.name}", type=kind, default=f.default,
                        show_default=True, help=help_text)


def signal_options(fn: F) -> F:
    """Add every signal's flags to a command (its parameters arrive as ``opt_<signal>__<field>``)."""
    for signal, cls in reversed(list(OPTIONS.items())):
        for f in reversed(dataclasses.fields(cls)):
            fn = _flag(signal, f)(fn)
    return fn


def build_options(params: dict[str, Any]) -> tuple[Any, ...]:
    """The options instances from a command's parameters (removes them from ``params``)."""
    values: dict[str, dict[str, Any]] = {}
    for key in [k for k in params if k.startswith("opt_")]:
        signal, _, field = key[len("opt_"):].partition("__")
        values.setdefault(signal, {})[field] = params.pop(key)
    return tuple(OPTIONS[signal](**fields) for signal, fields in values.items())
