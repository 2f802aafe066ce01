"""The registered hash types: every ``HashType`` defined in a module of ``hash_types/``.

Names and aliases are unique across types (checked when the catalogue loads), so any name a
file or another system uses resolves to exactly one type.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from consentry.signals.hashing import hash_types
from consentry.signals.hashing.base import HashType, UnknownHashType


@cache
def all_types() -> tuple[type[HashType], ...]:
    """Every registered type, sorted by name (a stable order for reports and counts)."""
    found: dict[str, type[HashType]] = {}
    for module_info in pkgutil.iter_modules(hash_types.__path__):
        module = importlib.import_module(f"{hash_types.__name__}.{module_info.name}")
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, HashType) and value is not HashType
                    and value.__module__ == module.__name__):
                found[value.name] = value
    types = tuple(found[name] for name in sorted(found))
    _by_name(types)  # refuse a catalogue with clashing names
    return types


@cache
def _names() -> dict[str, type[HashType]]:
    return _by_name(all_types())


def _by_name(types: tuple[type[HashType], ...]) -> dict[str, type[HashType]]:
    names: dict[str, type[HashType]] = {}
    for hash_type in types:
        for name in (hash_type.name, *hash_type.aliases):
            if name in names:
                raise RuntimeError(f"hash type name {name!r} is taken by {names[name].__name__} "
                                   f"and {hash_type.__name__}")
            names[name] = hash_type
    return names


def names() -> tuple[str, ...]:
    return tuple(t.name for t in all_types())


def get(name: str) -> type[HashType]:
    """The type with this name or alias (case and surrounding spaces ignored)."""
    found = _names().get(name.strip().lower())
    if found is None:
        raise UnknownHashType(f"unknown signal type {name!r} (known: {', '.join(names())}; "
                              f"also {', '.join(sorted(a for t in all_types() for a in t.aliases))})")
    return found


def find(name: str) -> type[HashType] | None:
    return _names().get(name.strip().lower())


def with_index(index: type) -> tuple[type[HashType], ...]:
    """The types whose candidates an index of this class finds."""
    return tuple(t for t in all_types() if t.index is index)
