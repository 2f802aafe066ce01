"""The installed signals, in the order they run. Names are stable keys: never rename one.

Each entry is imported lazily so that ``--signals hash`` never loads a face or nudity model.
"""

from __future__ import annotations

import importlib

from consentry.errors import ConfigError
from consentry.signals.base import Signal

# name -> "module:Class". A signal must come after every signal it ``requires``.
SIGNALS: dict[str, str] = {
    "hash": "consentry.signals.hashes:HashSignal",
    "faces": "consentry.signals.faces.signal:FacesSignal",
    "manipulation": "consentry.signals.manipulation:ManipulationSignal",
    "sexual": "consentry.signals.sexual:SexualSignal",
    "provenance": "consentry.signals.provenance.signal:ProvenanceSignal",
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


def resolve(requested: tuple[str, ...] | None) -> list[type[Signal]]:
    """The signal classes to run: every available one, or the requested ones (validated)."""
    if requested is None:
        chosen_all: list[type[Signal]] = []
        for name in SIGNALS:
            if unavailable_reason(name) is None:
                cls = signal_class(name)
                if all(r in {c.name for c in chosen_all} for r in cls.requires):
                    chosen_all.append(cls)
        return chosen_all
    unknown = [n for n in requested if n not in SIGNALS]
    if unknown:
        raise ConfigError(
            f"unknown signal(s): {', '.join(unknown)}; known: {', '.join(SIGNALS)}"
        )
    chosen: list[type[Signal]] = []
    for name in SIGNALS:  # registry order keeps dependencies first
        if name not in requested:
            continue
        reason = unavailable_reason(name)
        if reason:
            raise ConfigError(f"signal {name!r} cannot run here: {reason}")
        cls = signal_class(name)
        missing = [r for r in cls.requires if r not in requested]
        if missing:
            raise ConfigError(f"signal {name!r} needs {', '.join(missing)} too (add it to --signals)")
        chosen.append(cls)
    return chosen
