"""consentry backfill: the manifest is recorded first, each entry is stored once, identical
files are analysed once and linked, errors that may pass are retried, and the same command
continues a run. The crash tests are in test_backfill_crash.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from consentry.store import backfill as store
from consentry.store.db import open_database
from consentry.testing.samples import synthetic_scene


def _images(folder: Path, n: int, size: tuple[int, int] = (64, 48)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img-{i:04d}.png"
        synthetic_scene(i, size).save(path)
        paths.append(path)
    return paths


def _status(run_cli, run_id: int, **kw) -> dict:  # type: ignore[no-untyped-def]
    result = run_cli("backfill", "status", str(run_id), "--json", **kw)
    assert result.code == 0, result.stderr
    (obj,) = result.lines
    return obj


def _items(run_cli, run_id: int, **kw) -> list[dict]:  # type: ignore[no-untyped-def]
    result = run_cli("backfill", "items", str(run_id), "--json", **kw)
    assert result.code == 0, result.stderr
    return result.lines


def test_run_status_items_and_the_same_command_again(run_cli, tmp_path: Path) -> None:
    _images(tmp_path / "media", 6)
    (tmp_path / "media" / "notes.txt").write_text("not media\n")
    first = run_cli("backfill", "run", str(tmp_path / "media"), "--signals", "hash", "--json")
    assert first.code == 3, first.stderr  # one item unreadable, the rest done
    assert len(first.lines) == 7
    status = _status(run_cli, 1)
    assert {k: status[k] for k in ("done", "pending", "running", "error")} == {
        "done": 6, "pending": 0, "running": 0, "error": 1}
    items = _items(run_cli, 1)
    assert [Path(i["path"]).name for i in items] == [*(f"img-{i:04d}.png" for i in range(6)),
                                                     "notes.txt"]
    assert all(i["result"]["pdq"]["hash"] for i in items[:6])
    assert items[6]["state"] == "error" and items[6]["error_code"] == "unsupported"
    assert items[6]["attempts"] == 1  # a file that is not media is not tried again
    # The stored results are the scan's item JSON.
    assert {i["item_id"] for i in items} == {line["item_id"] for line in first.lines}
    again = run_cli("backfill", "run", str(tmp_path / "media"), "--signals", "hash", "--json")
    assert again.code == 3 and again.lines == []  # complete: nothing analysed or stored again
    listed = run_cli("backfill", "list", "--json").lines
    assert [r["run_id"] for r in listed] == [1] and listed[0]["done"] == 6
    human = run_cli("backfill", "items", "1")
    assert human.code == 0 and "\terror unsupported:" in human.stdout
    assert run_cli("backfill", "status", "9").code == 2


def test_identical_files_are_analysed_once_and_linked(run_cli, tmp_path: Path) -> None:
    originals = _images(tmp_path / "media", 3)
    for i, path in enumerate(originals):  # two twins of each, in the same run
        shutil.copy(path, tmp_path / "media" / f"twin-a-{i}.png")
        shutil.copy(path, tmp_path / "media" / f"twin-b-{i}.png")
    result = run_cli("backfill", "run", str(tmp_path / "media"), "--signals", "hash", "--json")
    assert result.code == 0, result.stderr
    lines = result.lines
    assert len(lines) == 9
    analysed = [line for line in lines if "known_item_id" not in line]
    linked = [line for line in lines if "known_item_id" in line]
    assert len(analysed) == 3 and len(linked) == 6
    by_id = {line["item_id"]: line for line in analysed}
    for line in linked:
        first = by_id[line["known_item_id"]]
        assert line["sha256"] == first["sha256"] and line["pdq"] == first["pdq"]
    # A second run over a copy links every file to what is stored (nothing analysed).
    shutil.copytree(tmp_path / "media", tmp_path / "copy")
    second = run_cli("backfill", "run", str(tmp_path / "copy"), "--signals", "hash", "--json")
    assert second.code == 0 and all("known_item_id" in line for line in second.lines)
    assert len(second.lines) == 9


def test_manifest_files_plain_and_json_lines(run_cli, tmp_path: Path) -> None:
    paths = _images(tmp_path / "media", 3)
    plain = tmp_path / "list.txt"
    plain.write_text(f"{paths[0]}\n\nmedia/{paths[1].name}\n")  # relative to the manifest
    lines = tmp_path / "list.jsonl"
    lines.write_text(json.dumps({"path": str(paths[2]), "external_id": "upload-77"}) + "\n"
                     + json.dumps({"path": str(paths[0]), "external_id": 12}) + "\n")
    result = run_cli("backfill", "run", str(plain), str(lines), "--signals", "hash", "--json")
    assert result.code == 0, result.stderr
    items = _items(run_cli, 1)
    assert [Path(i["path"]).name for i in items] == [p.name for p in (paths[0], paths[1], paths[2],
                                                                      paths[0])]
    assert [i["external_id"] for i in items] == [None, None, "upload-77", "12"]
    assert [i["state"] for i in items] == ["done"] * 4


def test_a_bad_manifest_line_stops_before_anything_runs(run_cli, tmp_path: Path) -> None:
    manifest = tmp_path / "list.jsonl"
    manifest.write_text('{"path": "a.png"}\n{"external_id": "no path"}\n')
    result = run_cli("backfill", "run", str(manifest), "--signals", "hash")
    assert result.code == 2
    assert f"{manifest}:2" in result.stderr and '"path"' in result.stderr
    assert run_cli("backfill", "run", str(tmp_path / "missing"), "--signals", "hash").code == 2


def test_errors_that_may_pass_are_retried_and_corrupt_files_are_not(
        run_cli, sqlite_url: str, tmp_path: Path) -> None:
    media = tmp_path / "media"
    (good,) = _images(media, 1)
    corrupt = media / "corrupt.png"
    corrupt.write_bytes(good.read_bytes()[:100])
    late = media / "late.png"  # listed, but only there once the share "comes back"
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"{good}\n{corrupt}\n{late}\n")
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "consentry", "--db", sqlite_url, "backfill", "run",
           str(manifest), "--signals", "hash", "--retry-delay", "1.5", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = open_database(sqlite_url)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # the first try at late.png has failed
            entries = {Path(e.path).name: e for e in store.entries(db, 1)} if store.get_run(db, 1) else {}
            if entries.get("late.png") and entries["late.png"].attempts >= 1:
                break
            time.sleep(0.1)
        shutil.copy(good, late)
        out, err = proc.communicate(timeout=60)
    finally:
        db.close()
    assert proc.returncode == 0 or proc.returncode == 3, err
    items = {Path(i["path"]).name: i for i in _items(run_cli, 1)}
    assert items["late.png"]["state"] == "done" and items["late.png"]["attempts"] == 2
    assert items["late.png"]["result"]["status"] == "ok"
    assert items["corrupt.png"]["state"] == "error" and items["corrupt.png"]["attempts"] == 1
    assert items["corrupt.png"]["error_code"] == "corrupt"
    assert len(out.splitlines()) == 3  # one stored result each, retries store nothing


def test_resume_by_id_and_a_run_held_by_a_live_process(run_cli, sqlite_url: str,
                                                        tmp_path: Path) -> None:
    _images(tmp_path / "media", 4)
    db = open_database(sqlite_url)
    try:
        run_id = store.create_run(db, "k", [str(tmp_path / "media")],
                                  {"signals": ["hash"], "signal_params": {}, "limits": {},
                                   "full_decode": False, "policy": None,
                                   "allow_missing_signals": False}, {})
        # This (live) test process owns the run: another process must not work on it.
        busy = run_cli("backfill", "resume", str(run_id))
        assert busy.code == 2 and "being worked on" in busy.stderr
        store.release(db, run_id, store.owner_name(), finished=False)
    finally:
        db.close()
    result = run_cli("backfill", "resume", str(run_id), "--json", "--workers", "1")
    assert result.code == 0, result.stderr
    assert len(result.lines) == 4
    assert _status(run_cli, run_id)["done"] == 4


def test_state_counts_on_postgresql(run_cli, pg_url: str, tmp_path: Path) -> None:
    _images(tmp_path / "media", 3)
    shutil.copy(tmp_path / "media" / "img-0000.png", tmp_path / "media" / "twin.png")
    result = run_cli("backfill", "run", str(tmp_path / "media"), "--signals", "hash", "--json",
                     db=pg_url)
    assert result.code == 0, result.stderr
    assert sum("known_item_id" in line for line in result.lines) == 1
    status = _status(run_cli, 1, db=pg_url)
    assert (status["done"], status["pending"], status["error"]) == (4, 0, 0)


@pytest.mark.parametrize("bad", ["{not json", '{"path": 3}', '{"path": "a", "external_id": []}'])
def test_manifest_line_errors_name_the_line(bad: str, tmp_path: Path) -> None:
    from consentry.errors import ConfigError
    from consentry.pipeline.backfill.manifest import read_manifest

    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"path": "ok.png"}\n' + bad + "\n")
    with pytest.raises(ConfigError, match=r"m\.jsonl:2"):
        list(read_manifest(manifest))


def test_a_folder_in_a_manifest_and_an_entry_that_became_a_folder(run_cli, tmp_path: Path) -> None:
    _images(tmp_path / "media", 2)
    (tmp_path / "later").mkdir()
    _images(tmp_path / "later" / "inside", 1)
    manifest = tmp_path / "list.txt"
    manifest.write_text("media\n")
    result = run_cli("backfill", "run", str(manifest), "--signals", "hash", "--json")
    assert result.code == 0, result.stderr
    assert len(result.lines) == 2  # the folder's files, one entry each
    # An entry that is a folder by the time it is analysed is an error, not a lost entry.
    from consentry.pipeline.backfill.engine import LocalEngine
    from consentry.pipeline.backfill.run import Backfill
    from consentry.policy.engine import RulesPolicy
    from consentry.settings import ScanSettings
    from consentry.signals import catalog

    url = f"sqlite:///{tmp_path / 'other.db'}"
    db = open_database(url)
    try:
        run_id = store.create_run(db, "k", [], {}, {})
        store.write_manifest(db, run_id, [(tmp_path / "later", None)])
        classes = catalog.resolve(("hash",))
        engine = LocalEngine(ScanSettings(signals=("hash",)), classes, 1)
        run = store.get_run(db, run_id)
        assert run is not None
        Backfill(db, RulesPolicy.from_file(), classes, engine).run(run)
        (entry,) = store.entries(db, run_id)
        assert entry.state == "error" and entry.error_code == "not_regular"
        assert store.counts(db, run_id)["error"] == 1
    finally:
        db.close()
