"""Options every command takes (``--db``, ``--json``), and the shared way to fail."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from consentry.errors import ConfigError, ConsentryError
from consentry.settings import DB_ENV, resolve_db_url

if TYPE_CHECKING:
    from consentry.store.db import Database

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FLAGGED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


@dataclass
class CliState:
    db_url: str | None = None
    json: bool = False
    _db: Database | None = None

    def database(self) -> Database:
        if self._db is None:
            from consentry.store.db import open_database  # SQLAlchemy loads on first use

            self._db = open_database(resolve_db_url(self.db_url))
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def state() -> CliState:
    ctx = click.get_current_context()
    return ctx.ensure_object(CliState)


def _set_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(CliState).db_url = value


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliState).json = True


db_option = click.option(
    "--db", "db_url", metavar="URL", expose_value=False, callback=_set_db, is_eager=True,
    help=f"Database URL (sqlite:///file.db, postgresql://...); default ${DB_ENV} or a SQLite "
    "file in the user data folder.",
)
json_option = click.option(
    "--json", "json_out", is_flag=True, expose_value=False, callback=_set_json,
    help="Print JSON Lines (one object per line) instead of tables.",
)


def common_options(fn: F) -> F:
    """``--db`` and ``--json`` on a command (they are accepted on the group too)."""
    return db_option(json_option(fn))  # type: ignore[return-value]


def emit(obj: dict[str, Any], *, flush: bool = True) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    if flush:
        sys.stdout.flush()


def handle_errors(fn: F) -> F:
    """Turn our own errors into one clear line and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            fail(str(exc))
        except ConsentryError as exc:
            fail(f"{exc.code}: {exc}")

    return wrapper  # type: ignore[return-value]


def fail(message: str, code: int = EXIT_USAGE) -> None:
    if state().json:
        emit({"status": "error", "error": message})
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)
