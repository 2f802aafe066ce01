"""Internal errors (bugs, not bad input): exit 2 with one short line, never 1 (which means
"something flagged") and never a bare traceback. The traceback goes to a log file in the
data folder, or to the terminal with ``--debug`` (or CONSENTRY_DEBUG=1)."""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

import click

from consentry.names import terminal_text

DEBUG_ENV = "CONSENTRY_DEBUG"
EXIT_INTERNAL = 2
_debug = False


def _set_debug(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    global _debug
    _debug = _debug or value


debug_option = click.option(
    "--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
    help=f"Print the traceback of an internal error (default: written to a log file; "
    f"or set {DEBUG_ENV}=1).")


def log_folder() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("consentry", appauthor=False)) / "logs"


def _write_log(text: str) -> Path | None:
    try:
        folder = log_folder()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = folder / f"error-{stamp}-{os.getpid()}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it may name files
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(text)
        return path
    except OSError:
        return None


def internal_error(exc: BaseException) -> int:
    """Say that Consentry failed (one line), put the traceback where it belongs; exit 2."""
    text = "".join(traceback.format_exception(exc))
    where = None
    if _debug or os.environ.get(DEBUG_ENV):
        sys.stderr.write(text)
    elif (where := _write_log(text)) is None:
        sys.stderr.write(text)  # nowhere to put it: better on the terminal than lost
    reason = terminal_text(f"{type(exc).__name__}: {exc}"[:300])
    hint = f"; the traceback is in {where} (or run with --debug)" if where else ""
    sys.stderr.write(f"error: internal error ({reason}). This is a bug in Consentry, not a "
                     f"problem with the input{hint}\n")
    return EXIT_INTERNAL
