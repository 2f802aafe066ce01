"""Where exchanges are configured and how far each got: JSON files beside the database
(``Database.sidecar_dir/exchanges``), written atomically. (The schema has no table for them
yet; the configuration is small and each checkpoint is written by one fetch at a time.)"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from consentry.store.db import Database

_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


@dataclass
class ExchangeConfig:
    name: str
    bank: str
    source: str  # a kind in sources.SOURCES
    settings: dict[str, Any] = field(default_factory=dict)
    interval_s: float = 3600.0  # how often `exchange fetch --watch` fetches it

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def folder(db: Database) -> Path:
    return db.sidecar_dir / "exchanges"


def check_name(name: str) -> None:
    if not name or len(name) > 100 or set(name) - _NAME_OK or name.startswith("."):
        raise ValueError("an exchange name is 1-100 letters, digits, '-', '_' or '.'")


def load_all(db: Database) -> dict[str, ExchangeConfig]:
    path = folder(db) / "exchanges.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: ExchangeConfig(**value) for name, value in data.items()}


def save_all(db: Database, configs: dict[str, ExchangeConfig]) -> None:
    _write(folder(db) / "exchanges.json", {n: c.as_json() for n, c in sorted(configs.items())})


def checkpoint(db: Database, name: str) -> dict[str, Any] | None:
    path = folder(db) / f"{name}.checkpoint.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def save_checkpoint(db: Database, name: str, value: dict[str, Any] | None) -> None:
    path = folder(db) / f"{name}.checkpoint.json"
    if value is None:
        path.unlink(missing_ok=True)
    else:
        _write(path, value)


@contextmanager
def locked(db: Database, name: str) -> Iterator[None]:
    """One fetch of an exchange at a time (a second waits)."""
    path = folder(db)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
