"""``consentry exchange``: a watched folder, an HTTP feed served by a real server on
127.0.0.1 (one Consentry instance following another's bank), and a python-threatexchange
client as sources; checkpoints make a repeated fetch read nothing new."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from consentry.signals.hashing import catalogue
from tests.conftest import THREATEXCHANGE, need

PDQ = THREATEXCHANGE / "pdq" / "data"
ORIGINAL = PDQ / "bridge-mods" / "aaa-orig.jpg"
EDIT = PDQ / "bridge-mods" / "blur-a-lot.jpg"
OTHER = PDQ / "reg-test-input" / "pen-and-coaster.png"
PDQS = catalogue.get("pdq").examples()


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served by http.server on 127.0.0.1 (ETag-less; it answers If-Modified-Since)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _fetch(run_cli, *names: str, db: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    res = run_cli("--json", "exchange", "fetch", *names, db=db)
    assert res.code in (0, 3), res.stderr
    return res.lines[0]


def test_local_folder_is_watched_with_a_checkpoint(run_cli, tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "a.te").write_text(f"pdq {PDQS[0]}\npdq {PDQS[1]}\n")
    assert run_cli("bank", "create", "b", "--kind", "ncii").code == 0
    res = run_cli("--json", "exchange", "add", "drop", "--bank", "b", "--source", "local_file",
                  "--path", str(folder))
    assert res.code == 0, res.stdout
    first = _fetch(run_cli, "drop")
    assert (first["pieces"], first["added"]) == (["a.te"], 2)
    assert _fetch(run_cli, "drop")["pieces"] == []  # nothing new
    (folder / "b.jsonl").write_text(f'{{"signal_type": "pdq", "signal_value": "{PDQS[2]}"}}\n')
    second = _fetch(run_cli, "drop")
    assert (second["pieces"], second["added"]) == (["b.jsonl"], 1)
    with open(folder / "a.te", "a") as fh:  # pytx's local_file appends to its file
        fh.write(f"pdq {PDQS[3]}\nurl https://example.org/x\n")
    third = _fetch(run_cli, "drop")
    assert (third["pieces"], third["added"], third["duplicates"]) == (["a.te"], 1, 2)
    assert third["bad_rows"] == ["a.te: line 4, field signal_type: unknown signal type 'url' (known: md5, "
                                 "pdq, sha256, vpdq; also file_md5, file_sha256, pdq_photo, pdq_video, "
                                 "photo_md5, photo_pdq, photo_sha256, video_md5, video_pdq, video_sha256, "
                                 "video_vpdq)"]
    assert run_cli("--json", "bank", "show", "b").lines[0]["entries"] == {"pdq": 4}
    (folder / "a.te").unlink()
    gone = run_cli("--json", "exchange", "fetch", "drop")
    assert gone.code == 0 and gone.lines[0]["pieces"] == []


def test_http_feed_follows_another_instance(run_cli, served, tmp_path: Path) -> None:
    need(PDQ)
    root, base = served
    upstream = f"sqlite:///{tmp_path / 'upstream.db'}"
    assert run_cli("bank", "create", "up", "--kind", "ncii", db=upstream).code == 0
    assert run_cli("bank", "add", "up", str(ORIGINAL), "--case", "U1", db=upstream).code == 0
    assert run_cli("bank", "export", "up", "-o", str(root / "feed.jsonl"), db=upstream).code == 0

    assert run_cli("bank", "create", "mirror", "--kind", "ncii").code == 0
    assert run_cli("exchange", "add", "up", "--bank", "mirror", "--source", "http",
                   "--url", f"{base}/feed.jsonl").code == 0
    first = _fetch(run_cli, "up")
    assert first["added"] == 2 and first["error"] is None  # PDQ + MD5, with their case id
    res = run_cli("--json", "scan", "--signals", "hash", str(EDIT), str(OTHER))
    assert [[(m["bank"], m["case_id"]) for m in line["matches"]] for line in res.lines] == [
        [("mirror", "U1")], []]
    assert _fetch(run_cli, "up")["pieces"] == []  # 304 Not Modified: nothing read
    # Upstream banks another photo; the next fetch brings only what is new.
    assert run_cli("bank", "add", "up", str(OTHER), db=upstream).code == 0
    assert run_cli("bank", "export", "up", "-o", str(root / "feed.jsonl"), db=upstream).code == 0
    later = _fetch(run_cli, "up")
    assert (later["added"], later["duplicates"]) == (2, 2)
    res = run_cli("--json", "scan", "--signals", "hash", str(OTHER))
    assert {m["bank"] for m in res.lines[0]["matches"]} == {"mirror"}


def test_http_errors_keep_the_checkpoint(run_cli, served) -> None:
    _root, base = served
    assert run_cli("bank", "create", "b", "--kind", "ncii").code == 0
    assert run_cli("exchange", "add", "gone", "--bank", "b", "--source", "http",
                   "--url", f"{base}/missing.te").code == 0
    res = run_cli("--json", "exchange", "fetch", "gone")
    assert res.code == 3 and "HTTP 404" in res.lines[0]["error"]
    listed = run_cli("--json", "exchange", "list").lines
    assert listed[0]["checkpoint"] is None
    assert run_cli("exchange", "add", "bad", "--bank", "b", "--source", "http", "--url", "ftp://x").code == 2
    assert run_cli("exchange", "add", "x", "--bank", "nope", "--source", "local_file",
                   "--path", "/tmp").code == 2


def test_a_pytx_client_is_a_source(run_cli, tmp_path: Path) -> None:
    pytest.importorskip("threatexchange")
    listing = tmp_path / "pytx.txt"  # pytx's local_file format, read by pytx's own client
    listing.write_text(f"pdq {PDQS[0]}\nvideo_md5 {'ab' * 16}\nraw_text hello\n")
    assert run_cli("bank", "create", "b", "--kind", "ncii").code == 0
    assert run_cli("exchange", "add", "tx", "--bank", "b", "--source", "pytx", "--api", "local_file",
                   "--collab", f'{{"filename": "{listing}"}}').code == 0
    report = _fetch(run_cli, "tx")
    assert report["added"] == 2 and len(report["bad_rows"]) == 1 and "raw_text" in report["bad_rows"][0]
    rows = run_cli("--json", "bank", "export", "b").stdout.splitlines()
    assert len(rows) == 2 and '"category": "INVESTIGATION_SEED"' in rows[0]
