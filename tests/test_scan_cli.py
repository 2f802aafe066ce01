"""`consentry scan` as users script it: JSON Lines, exit codes, --db / CONSENTRY_DB, the
store (SQLite and PostgreSQL), and the HTML report."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from consentry.store.db import open_database
from consentry.store.tables.core import Item, Scan
from consentry.testing.samples import synthetic_scene, write_video

HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    (folder / "sub").mkdir(parents=True)
    synthetic_scene(1).save(folder / "a.png")
    synthetic_scene(2).save(folder / "sub" / "b.jpg", quality=90)
    write_video(folder / "sub" / "c.mp4", frames=45, fps=15)
    return folder


def test_json_lines_schema(run_cli, media: Path) -> None:
    result = run_cli("scan", "--json", "--signals", "hash", str(media))
    assert result.code == 0, result.stderr
    lines = {Path(x["path"]).name: x for x in result.lines}
    assert set(lines) == {"a.png", "b.jpg", "c.mp4"}
    for name in ("a.png", "b.jpg"):
        item = lines[name]
        assert item["kind"] == "image" and item["status"] == "ok" and item["error"] is None
        assert re.fullmatch(r"[0-9a-f]{32}", item["md5"]) and HEX64.match(item["sha256"])
        assert HEX64.match(item["pdq"]["hash"]) and 0 <= item["pdq"]["quality"] <= 100
        assert item["flagged"] is False
    video = lines["c.mp4"]
    assert video["kind"] == "video"
    assert video["media"] == {"container": "mp4", "codec": "h264", "width": 320, "height": 240,
                              "duration": pytest.approx(3.0, abs=0.1), "fps": 15.0,
                              "frame_count": 45}
    assert [f["frame"] for f in video["vpdq"]] == [0, 15, 30]
    assert [f["timestamp"] for f in video["vpdq"]] == [0.0, 1.0, 2.0]
    assert all(HEX64.match(f["hash"]) for f in video["vpdq"])


def test_results_are_stored(db_url: str, run_cli, media: Path) -> None:
    result = run_cli("scan", "--json", "--signals", "hash", "--dihedral", str(media), db=db_url)
    assert result.code == 0, result.stderr
    db = open_database(db_url)
    try:
        with db.session() as session:
            scan = session.scalars(select(Scan)).one()
            assert (scan.n_items, scan.n_errors, scan.n_flagged) == (3, 0, 0)
            assert scan.finished_at is not None and scan.settings["dihedral"] is True
            items = {Path(i.path).name: i for i in session.scalars(select(Item))}
            printed = {Path(x["path"]).name: x for x in result.lines}
            assert items["a.png"].result["pdq"] == printed["a.png"]["pdq"]
            assert [f["frame"] for f in items["c.mp4"].result["vpdq"]] == [0, 15, 30]
            assert len(items["b.jpg"].result["pdq_dihedral"]) == 8
            # Privacy by default: no media bytes are kept.
            assert all("thumbnail" not in i.result for i in items.values())
    finally:
        db.close()


def test_stored_json_equals_printed_json(run_cli, sqlite_url: str, media: Path) -> None:
    printed = {x["path"]: x for x in run_cli("scan", "--json", str(media)).lines}
    shown = {x["path"]: x for x in run_cli("scans", "show", "1", "--json").lines}
    assert printed == shown


def test_db_from_environment(tmp_path: Path, media: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    env = {**os.environ, "CONSENTRY_DB": url}
    proc = subprocess.run([sys.executable, "-m", "consentry", "scan", "--json", str(media / "a.png")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "env.db").exists()


def test_usage_errors_exit_2(run_cli, media: Path) -> None:
    unknown = run_cli("scan", "--signals", "hash,telepathy", str(media))
    assert unknown.code == 2 and "telepathy" in unknown.stderr
    bad_db = run_cli("scan", str(media), db="mysql://nobody@nowhere/x")
    assert bad_db.code == 2 and "unsupported database" in bad_db.stderr
    assert run_cli("scan").code == 2  # no path


def _thumbnail(html: str) -> Image.Image:
    match = re.search(r'src="data:image/jpeg;base64,([^"]+)"', html)
    assert match, "report has no embedded preview"
    return Image.open(io.BytesIO(base64.b64decode(match.group(1))))


def test_html_report_is_self_contained_and_blurred(run_cli, tmp_path: Path, media: Path) -> None:
    from consentry.testing.samples import astronaut

    astronaut().save(media / "0-astronaut.png")  # detailed, and first in the report
    report = tmp_path / "report.html"
    assert run_cli("scan", "--report", str(report), str(media)).code == 0
    html = report.read_text()
    assert "0-astronaut.png" in html and "a.png" in html and "c.mp4" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html
    blurred = _thumbnail(html)
    assert blurred.mode == "L"  # greyscale by default

    clear = tmp_path / "clear.html"
    assert run_cli("scan", "--report", str(clear), "--no-blur", str(media)).code == 0
    shown = _thumbnail(clear.read_text())
    assert shown.mode == "RGB"
    # Blurring removes fine detail: far less high-frequency energy than the clear preview.
    def detail(img: Image.Image) -> float:
        grey = np.asarray(img.convert("L"), dtype=np.float64)
        return float(np.abs(np.diff(grey, axis=1)).mean())

    assert detail(blurred) < detail(shown) / 3


def test_report_escapes_hostile_file_names(run_cli, tmp_path: Path) -> None:
    evil = tmp_path / "<img src=x onerror=alert(1)>.png"
    synthetic_scene(9).save(evil, format="PNG")
    report = tmp_path / "r.html"
    run_cli("scan", "--report", str(report), str(evil))
    html = report.read_text()
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_a_missing_path_is_a_usage_error_and_stores_nothing(run_cli, sqlite_url, media: Path) -> None:
    result = run_cli("scan", str(media), str(media / "typo.jpg"))
    assert result.code == 2 and "no such file or folder" in result.stderr
    assert "typo.jpg" in result.stderr
    db = open_database(sqlite_url)
    with db.session() as session:
        assert session.scalars(select(Scan)).all() == []


def test_an_empty_folder_says_so(run_cli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli("scan", str(tmp_path / "empty"))
    assert result.code == 0 and "nothing to scan" in result.stderr


def test_piped_human_output_is_one_unwrapped_line_per_item(run_cli, tmp_path: Path) -> None:
    folder = tmp_path / ("a-very-long-folder-name-" * 6)
    folder.mkdir()
    (folder / "notes.txt").write_text("not media")
    result = run_cli("scan", str(folder))
    assert result.code == 3
    lines = [line for line in result.stdout.splitlines() if line.startswith("error ")]
    assert len(lines) == 1 and str(folder / "notes.txt") in lines[0]  # not hard-wrapped
    assert "scanning" not in result.stderr  # no progress bar outside a terminal


def test_json_lines_carry_the_scan_id(run_cli, media: Path) -> None:
    result = run_cli("scan", "--json", "--signals", "hash", str(media))
    scan_ids = {line["scan_id"] for line in result.lines}
    assert len(scan_ids) == 1 and isinstance(scan_ids.pop(), int)


def test_skip_known_repeats_the_stored_result_until_a_signal_version_changes(
        run_cli, sqlite_url: str, media: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = {line["path"]: line for line in run_cli("scan", "--json", "--signals", "hash", str(media)).lines}
    again = run_cli("scan", "--json", "--signals", "hash", "--skip-known", str(media))
    assert again.code == 0
    for line in again.lines:
        earlier = first[line["path"]]
        assert line["known_item_id"] == earlier["item_id"] and line["item_id"] != earlier["item_id"]
        assert (line.get("pdq"), line.get("vpdq")) == (earlier.get("pdq"), earlier.get("vpdq"))
        assert line["verdict"] == earlier["verdict"] and line["sha256"] == earlier["sha256"]
    # a new version of the hash signal: the same files are analysed anew
    monkeypatch.setenv("CONSENTRY_TEST_HASH_VERSION", "2")
    code = ("import os, runpy, sys; from consentry.signals.hashes import HashSignal; "
            "HashSignal.version = os.environ['CONSENTRY_TEST_HASH_VERSION']; "
            "sys.argv = ['consentry'] + sys.argv[1:]; runpy.run_module('consentry', run_name='__main__')")
    args = ["--db", sqlite_url, "scan", "--json", "--signals", "hash", "--skip-known", str(media)]
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines and all("known_item_id" not in line for line in lines), out.stderr
    assert all(line["signal_versions"] == {"hash": "2"} for line in lines)


def test_a_policy_file_needing_signals_that_will_not_run_is_refused(run_cli, media: Path,
                                                                     tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('version = 1\nname = "needs-faces"\n\n[[rule]]\nid = "face-review"\naction = "review"\n'
                      'priority = "normal"\nmessage = "a face"\nwhen = { faces = true }\n')
    refused = run_cli("scan", "--signals", "hash", "--policy", str(policy), str(media))
    assert refused.code == 2 and "faces" in refused.stderr and "face-review" in refused.stderr
    allowed = run_cli("scan", "--json", "--signals", "hash", "--policy", str(policy),
                      "--allow-missing-signals", str(media))
    assert allowed.code == 0
    assert all("faces" in line["verdict"]["missing_signals"] for line in allowed.lines)


def test_a_stored_scan_re_renders_as_the_same_report_without_previews(
        run_cli, tmp_path: Path, media: Path) -> None:
    live = tmp_path / "live.html"
    scanned = run_cli("scan", "--json", "--report", str(live), str(media))
    scan_id = scanned.lines[0]["scan_id"]
    again = tmp_path / "again.html"
    shown = run_cli("scans", "show", str(scan_id), "--report", str(again))
    assert shown.code == 0 and again.exists()

    def rows(html: str) -> list[str]:  # each item's row, previews and the time stamp left out
        body = re.sub(r'<img class="thumb" alt="preview"[^>]*>', "", html.split("<tbody>")[1])
        return body.split("</tbody>")[0].splitlines()

    assert rows(again.read_text()) == rows(live.read_text())
    assert 'alt="preview"' in live.read_text() and 'alt="preview"' not in again.read_text()


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_a_stopped_or_killed_scan_is_listed_interrupted_with_what_it_stored(
        run_cli, sqlite_url: str, tmp_path: Path, how: str) -> None:
    import signal
    import time

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(400):
        synthetic_scene(i, (96, 72)).save(folder / f"{i:03}.png")
    proc = subprocess.Popen([sys.executable, "-m", "consentry", "--db", sqlite_url, "scan", "--json",
                             "--signals", "hash", "--workers", "2", str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:  # until a batch is stored
        if proc.stdout and proc.stdout.readline():
            break
    if proc.poll() is None:
        if how == "SIGINT":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(getattr(signal, how))
    proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the scan finished before the signal (a very fast machine)")
    assert proc.returncode == (-signal.SIGKILL if how == "SIGKILL" else 130)
    listed = run_cli("scans", "list", "--json").lines[0]
    db = open_database(sqlite_url)
    with db.session() as session:
        stored = len(session.scalars(select(Item).where(Item.scan_id == listed["scan_id"])).all())
    assert listed["status"] == "interrupted"
    assert 0 < listed["n_items"] == stored < 400
