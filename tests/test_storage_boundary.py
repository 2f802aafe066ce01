"""The storage boundary: the fronts (cli/) never touch SQLAlchemy or the table classes, and
what store/ and the registry service hand them are plain dataclasses, not ORM rows."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from consentry.store import scans as scan_store
from consentry.store.db import open_database
from consentry.testing.samples import synthetic_scene

PACKAGE = Path(__file__).resolve().parents[1] / "consentry"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_cli_never_imports_sqlalchemy_or_tables() -> None:
    offenders = {
        path.name: sorted(m for m in _imports(path)
                          if m.split(".")[0] == "sqlalchemy" or m.startswith("consentry.store.tables"))
        for path in sorted((PACKAGE / "cli").glob("*.py"))
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_store_reads_return_dataclasses(sqlite_url: str, run_cli, tmp_path: Path) -> None:
    synthetic_scene(1).save(tmp_path / "a.png")
    assert run_cli("scan", "--signals", "hash", str(tmp_path / "a.png")).code == 0
    db = open_database(sqlite_url)
    try:
        scans = scan_store.list_scans(db)
        items = scan_store.scan_items(db, scans[0].scan_id)
        for row in [*scans, scan_store.get_scan(db, scans[0].scan_id), *items]:
            assert dataclasses.is_dataclass(row) and not hasattr(row, "_sa_instance_state")
        assert items[0].result["pdq"]["quality"] > 0
        assert scan_store.get_scan(db, 999) is None
    finally:
        db.close()


def test_scans_show_prints_each_verdict_and_its_reasons(run_cli, tmp_path: Path) -> None:
    synthetic_scene(1).save(tmp_path / "a.png")
    policy = tmp_path / "policy.toml"
    policy.write_text('version = 1\nname = "t"\n[[rule]]\nid = "no-credentials"\naction = "label"\n'
                      'label = "no-c2pa"\nmessage = "No content credentials"\n'
                      "when = { c2pa_ai_generated = false }\n")
    scan = run_cli("scan", "--signals", "hash,provenance", "--policy", str(policy),
                   str(tmp_path / "a.png"))
    assert scan.code == 0, scan.stderr
    shown = run_cli("scans", "show", "1")
    assert shown.code == 0, shown.stderr
    first, reason = shown.stdout.splitlines()[:2]
    assert first == f"label\tok\timage\t{tmp_path / 'a.png'}"
    assert reason.startswith("    no-credentials: No content credentials")
    assert run_cli("scans", "show", "7").code == 2
