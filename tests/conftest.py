"""Shared fixtures: the ../shared reference data, databases (SQLite and PostgreSQL), CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
# Debian's Chromium as root in a container, with nothing that reaches the network on its own
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    """A loopback port nothing listens on now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
SHARED = Path(os.environ.get("CONSENTRY_SHARED", ROOT.parent / "shared"))
THREATEXCHANGE = SHARED / "reference" / "threatexchange"
DEEPFAKE_DEV = SHARED / "data" / "deepfake-dev"
DFDC_FACES = SHARED / "data" / "dfdc-faces"
PG_URL = os.environ.get("CONSENTRY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/consentry_test")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def poll(read: Callable[[], T], done: Callable[[T], bool], wait_s: float) -> T:
    """``read()`` again until ``done`` says so or ``wait_s`` passes; the last reading. For state
    that settles asynchronously (processes starting or ending, files deleted after a commit)."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def left_in(folder: Path, wait_s: float = 10.0) -> list[str]:
    """What stays in ``folder`` once it empties or ``wait_s`` passes: a job worker ends a job in
    the database and then deletes its spooled bytes, so a client can see "done" a moment first
    (the spool sweep removes what a crash in between leaves)."""
    return poll(lambda: sorted(p.name for p in folder.iterdir()), lambda left: not left, wait_s)


def need(path: Path) -> Path:
    """Skip (with the reason) when ../shared data is absent, as in a user's clone."""
    if not path.exists():
        pytest.skip(f"needs shared data at {path} (present in CI and developer machines)")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'consentry.db'}"


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema-isolated PostgreSQL database for one test."""
    if not _pg_available():
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} (make services starts it)")
    import psycopg

    name = f"consentry_t_{uuid.uuid4().hex[:10]}"
    base = PG_URL.rsplit("/", 1)[0]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'consentry.db'}"
    return request.getfixturevalue("pg_url")


class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@pytest.fixture
def run_cli(sqlite_url: str):  # type: ignore[no-untyped-def]
    """Run the real ``consentry`` command in a subprocess (the way users script it)."""

    def run(*args: str, db: str | None = None, timeout: float = 300, **kw) -> CliResult:  # type: ignore[no-untyped-def]
        cmd = [sys.executable, "-m", "consentry", "--db", db or sqlite_url, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
        return CliResult(proc)

    return run
