"""Every kind of bad input gets one clear error line and a stored error record; the batch goes on."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from consentry.store.db import open_database
from consentry.store.tables.core import Item
from consentry.testing.hostile import write_hostile_set
from consentry.testing.samples import synthetic_scene, write_video

# case -> (error_code, words the reason must contain)
EXPECTED = {
    "empty": ("empty", "empty file"),
    "truncated_jpeg": ("corrupt", "truncated"),
    "truncated_mp4": ("corrupt", "not a readable mp4 video"),
    "random_bytes": ("unsupported", "not a recognised image or video"),
    "text": ("unsupported", "not a recognised image or video"),
    "png_bomb": ("limit_exceeded", "decompression bomb"),
    "long_video": ("limit_exceeded", "claims to last 10.0 h"),
    "symlink_loop_dir": ("symlink_loop", "symlink loop"),
    "symlink_loop_file": ("symlink_loop", "Too many levels of symbolic links"),
    "fifo": ("not_regular", "not a regular file"),
}


@pytest.fixture
def batch(tmp_path: Path) -> tuple[Path, dict[str, Path], list[Path]]:
    folder = tmp_path / "batch"
    cases = write_hostile_set(folder)
    good = [folder / "good-1.png", folder / "good-2.jpg"]
    synthetic_scene(3).save(good[0])
    synthetic_scene(4).save(good[1], quality=90)
    good.append(write_video(folder / "good-3.mp4", frames=30))
    return folder, cases, good


def test_each_bad_item_is_reported_and_the_batch_goes_on(run_cli, sqlite_url, batch) -> None:
    folder, cases, good = batch
    missing = folder / "no-such-folder" / "does-not-exist.jpg"  # inside: a broken link
    missing.parent.mkdir()
    missing.symlink_to(folder / "gone.jpg")
    result = run_cli("scan", "--json", str(folder), timeout=120)

    assert result.code == 3, result.stderr  # some items unreadable, the rest done
    by_path = {Path(line["path"]): line for line in result.lines}
    for path in good:
        assert by_path[path]["status"] == "ok", by_path[path]
    for case, path in cases.items():
        code, words = EXPECTED[case]
        line = by_path[path]
        assert line["status"] == "error", (case, line)
        assert line["error_code"] == code, (case, line)
        assert words.lower() in line["error"].lower(), (case, line["error"])
    assert by_path[missing]["error_code"] == "not_found"
    # One line per item, nothing else on stdout.
    assert len(result.lines) == len(good) + len(cases) + 1

    db = open_database(sqlite_url)
    with db.session() as session:
        stored = {Path(i.path): i for i in session.scalars(select(Item))}
    assert {p for p in stored} == set(by_path)
    for path in cases.values():
        assert stored[path].status == "error" and stored[path].error


def test_human_output_gives_one_line_per_bad_item(run_cli, batch) -> None:
    folder, cases, _good = batch
    result = run_cli("scan", str(folder), timeout=120)
    assert result.code == 3
    # what was found goes to stdout, one line each (progress, on a terminal only, to stderr)
    error_lines = [line for line in result.stdout.splitlines() if line.startswith("error ")]
    assert len(error_lines) == len(cases), result.stdout


def test_limits_are_configurable(run_cli, tmp_path: Path) -> None:
    img = tmp_path / "big.png"
    synthetic_scene(1, (800, 600)).save(img)
    refused = run_cli("scan", "--json", "--max-pixels", "100000", str(img)).lines[0]
    assert refused["error_code"] == "limit_exceeded"
    assert "480,000 pixels" in refused["error"]
    assert run_cli("scan", "--json", str(img)).lines[0]["status"] == "ok"
