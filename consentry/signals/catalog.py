"""The installed signals, in the order they run. Names are stable keys: never rename one.

Each entry is imported lazily so that ``--signals hash`` never loads a face or nudity model.
"""

from __future__ import annotations

import importlib

from consentry.errors import ConfigError
from consentry.signals.base import Signal
from consentry.signals.options import FacesOptions, HashOptions, SexualOptions

# name -> "module:Class". Run order follows ``requires`` (run_order), not this order.
SIGNALS: dict[str, str] = {
    "hash": "consentry.signals.hashes:HashSignal",
    "faces": "consentry.signals.faces.signal:FacesSignal",
    "manipulation": "consentry.signals.manipulation:ManipulationSignal",
    "sexual": "consentry.signals.sexual:SexualSignal",
    "provenance": "consentry.signals.provenance.signal:ProvenanceSignal",
}


# name -> the signal's options dataclass (light: the CLI builds its flags from these without
# importing the signals). ``Signal.Options`` of each class must be the same (tested).
OPTIONS: dict[str, type] = {
    "hash": HashOptions,
    "faces": FacesOptions,
    "sexual": SexualOptions,
}


def signal_class(name: str) -> type[Signal]:
    module_name, _, class_name = SIGNALS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if cls.name != name:
        raise RuntimeError(f"signal registered as {name!r} calls itself {cls.name!r}")
    return cls


def unavailable_reason(name: str) -> str | None:
    try:
        cls = signal_class(name)
    except ImportError as exc:
        return f"not installed ({exc.name or exc})"
    return cls.available()


def run_order(classes: list[type[Signal]]) -> list[type[Signal]]:
    """``classes`` with every signal after the signals it ``requires`` (ties keep catalogue
    order); raises ConfigError on a cycle or a requirement that is not among them."""
    by_name = {c.name: c for c in classes}
    ordered: list[type[Signal]] = []
    visiting: set[str] = set()

    def visit(cls: type[Signal]) -> None:
        if cls in ordered:
            return
        if cls.name in visiting:
            raise ConfigError(f"signal {cls.name!r} requires itself through {', '.join(cls.requires)}")
        visiting.add(cls.name)
        for need in cls.requires:
            if need not in by_name:
                raise ConfigError(f"signal {cls.name!r} needs {need} too (add it to --signals)")
            visit(by_name[need])
        visiting.discard(cls.name)
        ordered.append(cls)

    for cls in classes:
        visit(cls)
    return ordered


def resolve(requested: tuple[str, ...] | None) -> list[type[Signal]]:
    """The signal classes to run, dependencies first: every available one (a signal whose
    requirements cannot run is left out), or the requested ones (validated)."""
    if requested is None:
        available = {name: signal_class(name) for name in SIGNALS if unavailable_reason(name) is None}
        runnable = {n: c for n, c in available.items()
                    if all(_runnable(r, available, set()) for r in c.requires)}
        return run_order(list(runnable.values()))
    unknown = [n for n in requested if n not in SIGNALS]
    if unknown:
        raise ConfigError(
            f"unknown signal(s): {', '.join(unknown)}; known: {', '.join(SIGNALS)}"
        )
    chosen: list[type[Signal]] = []
    for name in sorted(set(requested), key=list(SIGNALS).index):  # stable JSON key order
        reason = unavailable_reason(name)
        if reason:
            raise ConfigError(f"signal {name!r} cannot run here: {reason}")
        chosen.append(signal_class(name))
    return run_order(chosen)


def _runnable(name: str, available: dict[str, type[Signal]], seen: set[str]) -> bool:
    if name not in available or name in seen:
        return False
    return all(_runnable(r, available, seen | {name}) for r in available[name].requires)
