"""Hash-list exchange: lossless round trips (CSV, python-threatexchange, JSON Lines) through the
database and the CLI, and malformed rows reported by line and field."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consentry.match.banks import formats, service
from consentry.match.banks.records import make_record, vpdq_value
from consentry.store.db import open_database
from tests.conftest import THREATEXCHANGE, need

PDQ_HEX = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22"
FRAMES = [{"hash": PDQ_HEX, "quality": 100, "timestamp": 0.0},
          {"hash": "0" * 63 + "1", "quality": 49, "timestamp": 1.0}]


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bank indexes of PostgreSQL test databases go under tmp, not the user's data folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def _sample() -> list:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return [
        make_record("pdq", PDQ_HEX.upper(), quality=93, case_id="case-1", external_id="c1",
                    note='comma, "quotes" and\nnewline', attributes={"source": "helpline", "n": 2},
                    added_at=when.isoformat()),
        make_record("vpdq", vpdq_value(FRAMES), external_id="c2", added_at=when.isoformat()),
        make_record("video_md5", "d41d8cd98f00b204e9800998ecf8427e", external_id="c2"),
        make_record("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ]


def _through_bank(db, name: str, text: str, fmt: str) -> tuple[str, list]:
    """Import ``text`` into a new bank and export it again."""
    with db.session() as session:
        bank = service.create_bank(session, name, "ncii", "tester")
        parsed = formats.parse(io.StringIO(text), fmt)
        assert not parsed.errors
        service.add_records(session, bank, [r for _, r in parsed.records], source="import", actor="t")
    with db.session() as session:
        entries = service.active_entries(session, service.get_bank(session, name))
        exported = [service.to_record(e) for e in entries]
    return formats.dumps(exported, fmt), exported


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_round_trip_through_the_database(db_url: str, fmt: str) -> None:
    db = open_database(db_url)
    records = _sample()
    first, exported = _through_bank(db, "one", formats.dumps(records, fmt), fmt)
    second, _ = _through_bank(db, "two", first, fmt)
    assert second == first  # export -> import -> export gives the same bytes
    for before, after in zip(records, exported, strict=True):
        assert (after.signal, after.value, after.quality, after.case_id, after.external_id, after.note,
                after.attributes) == (before.signal, before.value, before.quality, before.case_id,
                                      before.external_id, before.note, before.attributes)
    assert exported[0].added_at == records[0].added_at  # kept, not reset to the import time
    assert exported[0].value == PDQ_HEX and exported[2].signal == "md5"  # canonical forms


@pytest.mark.parametrize(("text", "line", "field"), [
    ("signal_type,signal_value\npdq,abc\n", 2, "signal_value"),
    ("signal_type,signal_value\npdq," + PDQ_HEX + "\nmd4," + "a" * 32 + "\n", 3, "signal_type"),
    ("signal_type,signal_value,quality\npdq," + PDQ_HEX + ",high\n", 2, "quality"),
    ("signal_type,signal_value,metadata\npdq," + PDQ_HEX + ",{oops\n", 2, "metadata"),
    ("signal_type,signal_value\nvpdq,\"[\"\"zz,1,0\"\"]\"\n", 2, "signal_value"),
    ("hash,quality\n" + PDQ_HEX + ",100\n", 1, "signal_type"),
])
def test_malformed_csv_rows_name_line_and_field(text: str, line: int, field: str) -> None:
    parsed = formats.parse(io.StringIO(text), "csv")
    assert [(e.line, e.field) for e in parsed.errors] == [(line, field)]


def test_te_and_jsonl_errors() -> None:
    # pytx's local_file has no JSON tail: anything after the first space is the signal.
    te = f"# comment\npdq {PDQ_HEX}\npdq\nmd5 {'a' * 32} {{not json\n"
    parsed = formats.parse(io.StringIO(te), "te")
    assert [(e.line, e.field) for e in parsed.errors] == [(3, "signal_value"), (4, "signal_value")]
    assert len(parsed.records) == 1
    parsed = formats.parse(io.StringIO('{"signal_type": "pdq"}\n[1]\n'), "jsonl")
    assert [(e.line, e.field) for e in parsed.errors] == [(1, "signal_value"), (2, "row")]


def test_cli_import_is_all_or_nothing_unless_skip_bad(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "list.csv"
    bad.write_text(f"signal_type,signal_value,case_id\npdq,{PDQ_HEX},k1\npdq,nothex,k2\n"
                   f"md5,{'b' * 32},k3\n")
    assert run_cli("bank", "create", "b", "--kind", "ncii").code == 0
    res = run_cli("--json", "bank", "import", "b", str(bad))
    assert res.code == 2 and "line 3, field signal_value" in res.lines[-1]["error"]
    assert run_cli("--json", "bank", "show", "b").lines[0]["entries"] == {}  # nothing imported
    res = run_cli("--json", "bank", "import", "b", str(bad), "--skip-bad")
    assert res.code == 3 and res.lines[0]["added"] == 2
    assert res.lines[0]["bad_rows"] == ["line 3, field signal_value: a pdq hash is 64 hex characters, got 6"]
    out = tmp_path / "out.jsonl"
    assert run_cli("bank", "export", "b", "-o", str(out)).code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["signal_type"], r["case_id"]) for r in rows] == [("pdq", "k1"), ("md5", "k3")]
    # The same file imported into a second bank exports identically (lossless via the CLI).
    assert run_cli("bank", "create", "c", "--kind", "other").code == 0
    assert run_cli("bank", "import", "c", str(out)).code == 0
    assert run_cli("bank", "export", "c", "--format", "jsonl").stdout == out.read_text()


def test_cli_bank_lifecycle(run_cli, tmp_path: Path) -> None:
    image = need(THREATEXCHANGE / "pdq" / "data" / "bridge-mods" / "aaa-orig.jpg")
    probe = THREATEXCHANGE / "pdq" / "data" / "bridge-mods" / "shrink-a-lot.jpg"
    assert run_cli("bank", "create", "ncii", "--kind", "ncii", "--threshold", "31").code == 0
    res = run_cli("--json", "bank", "add", "ncii", str(image), "--case", "K9", "--note", "report 9")
    assert res.code == 0 and res.lines[0]["added"] == 2  # PDQ + MD5
    res = run_cli("--json", "scan", "--signals", "hash", str(probe))
    assert res.code == 1  # flagged by the default policy: a non-allow bank matched
    (match,) = res.lines[0]["matches"]
    assert (match["bank"], match["kind"], match["signal"], match["case_id"]) == ("ncii", "ncii", "pdq", "K9")
    res = run_cli("--json", "bank", "withdraw", "ncii", "--case", "K9", "--reason", "victim asked")
    assert res.code == 0 and res.lines[0]["withdrawn"] == 2
    res = run_cli("--json", "scan", "--signals", "hash", str(probe))
    assert res.code == 0 and res.lines[0].get("matches", []) == []
    res = run_cli("--json", "bank", "set", "ncii", "--enabled-ratio", "0.25", "--no-dihedral")
    assert (res.lines[0]["enabled_ratio"], res.lines[0]["dihedral"]) == (0.25, False)
    assert run_cli("bank", "delete", "ncii").code == 2  # needs --yes
    assert run_cli("--json", "bank", "delete", "ncii", "--yes").lines[0]["deleted_entries"] == 2
    assert run_cli("--json", "bank", "list").lines == []


def test_bank_show_prints_readable_fields(run_cli) -> None:
    assert run_cli("bank", "create", "b", "--kind", "ncii", "--description", "helpline cases").code == 0
    listing = f"pdq {PDQ_HEX}\nvideo_md5 {'a' * 32}\n"
    assert run_cli("bank", "import", "b", "/dev/stdin", input=listing).code == 0  # a pipe works too
    text = run_cli("bank", "show", "b").stdout
    assert "entries:        md5 1, pdq 1" in text and "description:    helpline cases" in text
    assert "{" not in text and "datetime" not in text and "None" not in text  # no Python reprs
    assert "first entries" in text and PDQ_HEX in text
