"""Victim-side hashing: only hashes leave the device, the format is versioned, and a
submission imported into a bank finds the media and is withdrawn by its case id."""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from consentry.cli.main import cli
from consentry.match.banks import submission as subm
from consentry.signals.hashing.pdq import distance
from tests.conftest import THREATEXCHANGE, need

PDQ = THREATEXCHANGE / "pdq" / "data"
IMAGES = ["bridge-mods/aaa-orig.jpg", "reg-test-input/dih/bridge-2-rotate-90.jpg",
          "bridge-mods/sharpen-a-lot.jpg"]
VIDEO = THREATEXCHANGE / "tmk" / "sample-videos" / "chair-22-sd-grey-bar.mp4"


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bank indexes of PostgreSQL test databases go under tmp, not the user's data folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def _expected_pdq() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with open(THREATEXCHANGE / "pdq" / "expected-hashes.csv") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["file"].removeprefix("pdq/data/"), []).append(row["hash"])
    return out


def test_submission_holds_only_hashes(run_cli, tmp_path: Path) -> None:
    need(PDQ)
    paths = [str(PDQ / name) for name in IMAGES] + [str(VIDEO), str(tmp_path / "missing.jpg")]
    out = tmp_path / "submission.json"
    db_file = tmp_path / "never.db"
    res = run_cli("--json", "hash", *paths, "-o", str(out), db=f"sqlite:///{db_file}")
    assert res.code == 3 and res.lines[-1]["items"] == 4 and res.lines[-1]["unreadable"] == 1
    assert not db_file.exists()  # hashing never opens the database
    text = out.read_text()
    for name in ["aaa-orig", "bridge", "sharpen", "chair", "missing", str(tmp_path)]:
        assert name not in text
    doc = json.loads(text)
    assert (doc["format"], doc["version"], doc["n_unreadable"]) == ("consentry.submission", 1, 1)
    assert [i["kind"] for i in doc["items"]] == ["image", "image", "image", "video"]
    assert set(doc["items"][0]) == {"kind", "pdq", "md5"}
    expected = _expected_pdq()
    for name, item in zip(IMAGES, doc["items"][:3], strict=True):
        # Meta's rule for a correct PDQ port: within 10 bits of the reference hashers.
        assert min(distance(item["pdq"]["hash"], ref) for ref in expected[name]) <= 10, name
    assert len(doc["items"][3]["vpdq"]) >= 20 and set(doc["items"][3]["vpdq"][0]) == {
        "hash", "quality", "timestamp"}
    kept = tmp_path / "named.json"
    assert run_cli("hash", str(PDQ / IMAGES[0]), "-o", str(kept), "--keep-names").code == 0
    assert json.loads(kept.read_text())["items"][0]["name"] == "aaa-orig.jpg"  # the name, no folder


def test_hash_opens_no_network_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need(PDQ)

    def refuse(*_args, **_kw):  # type: ignore[no-untyped-def]
        raise AssertionError("consentry hash tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    out = tmp_path / "s.json"
    result = CliRunner().invoke(cli, ["hash", str(PDQ / IMAGES[0]), "-o", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["items"][0]["kind"] == "image"


def test_import_submission_matches_and_case_withdrawal(run_cli, tmp_path: Path) -> None:
    need(VIDEO)
    sub = tmp_path / "sub.json"
    assert run_cli("hash", str(PDQ / IMAGES[0]), str(VIDEO), "-o", str(sub)).code == 0
    assert run_cli("bank", "create", "helpline", "--kind", "ncii").code == 0
    res = run_cli("--json", "bank", "import-submission", "helpline", str(sub), "--case", "HL-7")
    assert res.code == 0 and res.lines[0]["added"] == 4  # PDQ + MD5, vPDQ + MD5
    probes = [PDQ / "bridge-mods" / "blur-a-lot.jpg",
              THREATEXCHANGE / "tmk" / "sample-videos" / "chair-orig-22-sd-bar.mp4"]
    res = run_cli("--json", "scan", "--signals", "hash", *map(str, probes))
    assert res.code == 1
    assert [{m["signal"] for m in line["matches"]} for line in res.lines] == [{"pdq"}, {"vpdq"}]
    res = run_cli("--json", "bank", "withdraw", "helpline", "--case", "HL-7", "--reason", "victim asked")
    assert res.lines[0]["withdrawn"] == 4
    res = run_cli("--json", "scan", "--signals", "hash", *map(str, probes))
    assert res.code == 0 and all(line.get("matches", []) == [] for line in res.lines)


@pytest.mark.parametrize(("change", "message"), [
    ({"version": 2}, "version 2 is not supported"),
    ({"format": "other"}, "not a consentry submission"),
    ({"items": [{"kind": "image", "pdq": {"hash": "xyz", "quality": 90}}]}, "item 0, field signal_value"),
    ({"items": [{"kind": "image", "pdq": {"hash": "0" * 64, "quality": 101}}]}, "item 0, field quality"),
    ({"items": [{"kind": "video", "vpdq": [{"hash": "0" * 64}]}]}, "item 0, field vpdq"),
])
def test_bad_submissions_are_refused(tmp_path: Path, change: dict, message: str) -> None:
    doc = {"format": "consentry.submission", "version": 1,
           "items": [{"kind": "image", "md5": "a" * 32}]} | change
    sub = tmp_path / "bad.json"
    sub.write_text(json.dumps(doc))
    with pytest.raises(subm.SubmissionError, match=message):
        subm.read(sub)


def test_a_bad_submission_imports_nothing(run_cli, tmp_path: Path) -> None:
    sub = tmp_path / "bad.json"
    sub.write_text(json.dumps({"format": "consentry.submission", "version": 1, "items": [
        {"kind": "image", "md5": "a" * 32}, {"kind": "image", "md5": "nothex"}]}))
    assert run_cli("bank", "create", "b", "--kind", "ncii").code == 0
    res = run_cli("--json", "bank", "import-submission", "b", str(sub), "--case", "x")
    assert res.code == 2 and "item 1, field signal_value" in res.lines[-1]["error"]
    assert run_cli("--json", "bank", "show", "b").lines[0]["entries"] == {}


def test_hash_to_stdout(run_cli) -> None:
    need(PDQ)
    res = run_cli("hash", str(PDQ / IMAGES[0]), "-o", "-")
    assert res.code == 0
    doc = json.loads(res.stdout)  # the submission alone: no summary line beside it
    assert doc["format"] == "consentry.submission" and doc["items"][0]["kind"] == "image"
