"""File names that are not valid UTF-8, or hold newlines and terminal escapes: the batch
is done, every name is stored and printed losslessly (JSON, SQLite, PostgreSQL) and safely
(terminal)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from consentry.names import display_path, path_from_json, path_json, path_text, terminal_text
from consentry.store.db import open_database
from consentry.store.tables.core import Item
from consentry.testing.hostile import HOSTILE_NAME_BYTES, write_hostile_names
from consentry.testing.samples import synthetic_scene


def test_names_round_trip_and_print_safely() -> None:
    for raw in HOSTILE_NAME_BYTES:
        path = Path(os.fsdecode(b"/d/" + raw))
        fields = path_json(path)
        json.dumps(fields).encode("utf-8")  # valid Unicode: no lone surrogates
        assert path_from_json(json.loads(json.dumps(fields))) == path
        shown = display_path(path)
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown), shown
    assert path_json(Path("/d/plain é.png")) == {"path": "/d/plain é.png"}  # UTF-8: no extra field
    assert path_text(Path(os.fsdecode(b"/d/caf\xe9"))) == "/d/caf\\xe9"
    assert terminal_text("a\nb\x1b[2J\u202e") == "a\\nb\\x1b[2J\\u202e"


@pytest.fixture
def named_folder(tmp_path: Path) -> tuple[Path, list[Path]]:
    folder = tmp_path / "names"
    paths = write_hostile_names(folder)
    synthetic_scene(1, (96, 72)).save(folder / "plain.png")
    return folder, [*paths, folder / "plain.png"]


def _scan(db: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, "-m", "consentry", "--db", db, "scan", "--signals", "hash", *args]
    return subprocess.run(cmd, capture_output=True, timeout=180, cwd=cwd)


def test_json_and_database_keep_every_name(db_url: str, named_folder) -> None:
    folder, paths = named_folder
    proc = _scan(db_url, "--json", str(folder))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    lines = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert sorted(path_from_json(x) for x in lines) == sorted(paths)
    assert all(x["status"] == "ok" for x in lines)

    with open_database(db_url).session() as session:
        stored = list(session.scalars(select(Item)))
    assert sorted(i.path for i in stored) == sorted(path_text(p) for p in paths)
    assert sorted(path_from_json(i.result) for i in stored) == sorted(paths)


def test_terminal_lines_cannot_be_forged(sqlite_url: str, named_folder) -> None:
    """Errors are printed one line each, escaped: a newline or an escape sequence in a name
    shows as text. The files are made unreadable-as-media so each gets an error line."""
    folder, paths = named_folder
    for path in paths:
        path.write_bytes(b"not media")
    proc = _scan(sqlite_url, str(folder))
    assert proc.returncode == 3
    err = (proc.stdout + proc.stderr).decode("utf-8")  # problem lines: stdout or stderr
    assert "\x1b]0;" not in err and "\x1b[31m" not in err and "\r" not in err
    errors = [line for line in err.splitlines() if line.startswith("error ")]
    assert len(errors) == len(paths), err
    assert any("line\\nbreak.png" in line for line in errors)
    assert any("caf\\xe9.png" in line for line in errors)
