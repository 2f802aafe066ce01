"""File names as text: lossless in JSON and the database, safe on a terminal.

A POSIX file name is bytes. Python holds one that is not valid UTF-8 as a ``str`` with lone
surrogates (``surrogateescape``), which no UTF-8 encoder (stdout, SQLite, PostgreSQL) accepts.
So every name leaves Consentry as:

- ``path_text``: valid Unicode, identical to the name whenever the name is valid UTF-8; each
  byte that is not is written ``\\xNN`` (Python's ``backslashreplace``). This is the item
  JSON's ``path`` and the database's ``items.path``.
- ``path_bytes``: the name's exact bytes in base64, given (in JSON) only when ``path_text``
  is not the name itself, so the original can always be rebuilt (``path_from_json``).
- ``terminal_text``: for people: control characters (newlines, escape sequences) and
  bidirectional overrides written as visible escapes, so a name cannot forge output lines
  or drive the terminal.

docs/json-schema.md documents the JSON side.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

_SHOWN = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 controls, DEL, C1 controls, and the bidirectional embeddings/overrides/isolates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def path_text(path: str | os.PathLike[str]) -> str:
    """The name as valid Unicode (``\\xNN`` for each byte that is not UTF-8)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def path_bytes(path: str | os.PathLike[str]) -> str | None:
    """The name's bytes in base64 when ``path_text`` does not give them back, else None."""
    raw = os.fsencode(path)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii")
    return None


def path_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The item JSON's name fields: ``path``, and ``path_bytes`` when it is needed."""
    out: dict[str, Any] = {"path": path_text(path)}
    if (raw := path_bytes(path)) is not None:
        out["path_bytes"] = raw
    return out


def path_from_json(item: dict[str, Any]) -> Path:
    """The exact path an item JSON describes."""
    if item.get("path_bytes"):
        return Path(os.fsdecode(base64.b64decode(item["path_bytes"])))
    return Path(item["path"])


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHOWN.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def terminal_text(text: str) -> str:
    """``text`` with control characters and bidi overrides shown as escapes."""
    return _UNSAFE.sub(_escape, text)


def display_path(path: str | os.PathLike[str]) -> str:
    """A name as a person should see it on a terminal: valid Unicode, no control codes."""
    return terminal_text(path_text(path))
