"""Hash-list import hardening: a UTF-8 BOM and CRLF are accepted; a row the parser cannot read
(an unterminated quote, bad UTF-8, a field far over the csv module's 128 kB default) is
imported or reported with its line; with --skip-bad imported + duplicates + reported rows ==
data rows, always; every export re-imports losslessly however long its vPDQ."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest

from consentry.match.banks import formats
from consentry.match.banks.records import make_record, vpdq_value
from consentry.signals.hashing import catalogue

PDQS = catalogue.get("pdq").examples()
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def _long_vpdq(frames: int) -> str:
    rng = random.Random(frames)
    return vpdq_value([{"hash": f"{rng.getrandbits(256):064x}", "quality": 100, "timestamp": t}
                       for t in range(frames)])


def _accounted(parsed: formats.Parsed) -> int:
    return len(parsed.records) + len(parsed.withdrawals) + len(parsed.errors)


@pytest.mark.parametrize("fmt", ["csv", "te", "jsonl", "te-csv"])
def test_bom_and_crlf_are_accepted(fmt: str) -> None:
    records = [make_record("pdq", PDQS[0], quality=90), make_record("video_md5", MD5)]
    text = formats.dumps(records, fmt).replace("\r\n", "\n").replace("\n", "\r\n")
    data = b"\xef\xbb\xbf" + text.encode()
    assert formats.detect(io.BytesIO(data)) == fmt  # detected through the BOM
    parsed = formats.parse(data)
    assert not parsed.errors
    assert [(r.signal, r.value) for _, r in parsed.records] == [("pdq", PDQS[0]), ("md5", MD5)]


def test_unterminated_quote_is_reported_and_the_rest_imported() -> None:
    lines = ["signal_type,signal_value,note"] + [f"pdq,{h},ok" for h in PDQS[:2]]
    lines += [f'pdq,{PDQS[2]},"never closed', f"md5,{MD5},after", f"pdq,{PDQS[3]},last"]
    parsed = formats.parse("\n".join(lines) + "\n", "csv")
    assert [(e.line, e.field, e.reason) for e in parsed.errors] == [(4, "row", "unterminated quote")]
    assert [line for line, _ in parsed.records] == [2, 3, 5, 6]
    assert _accounted(parsed) == len(lines) - 1


def test_bad_utf8_lines_are_reported_by_line() -> None:
    data = f"pdq {PDQS[0]}\n".encode() + b"pdq \xff\xfe\n" + f"pdq {PDQS[1]}\n".encode()
    parsed = formats.parse(data, "te")
    assert [(e.line, e.reason) for e in parsed.errors] == [(2, "not UTF-8 text")]
    data = (b"signal_type,signal_value\n" + f"pdq,{PDQS[0]}\n".encode() + b"pdq,\xff\n"
            + f"md5,{MD5}\n".encode())
    parsed = formats.parse(data, "csv")
    assert [(e.line, e.reason) for e in parsed.errors] == [(3, "not UTF-8 text")]
    assert len(parsed.records) == 2


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "te", "te-csv"])
def test_exports_reimport_however_long_the_vpdq(fmt: str) -> None:
    value = _long_vpdq(20_000)  # 1.4 MB: ten times the csv module's default field limit
    assert len(value) > 131072 * 10
    records = [make_record("vpdq", value, note="long"), make_record("pdq", PDQS[0])]
    parsed = formats.parse(formats.dumps(records, fmt), fmt)
    assert not parsed.errors
    assert [(r.signal, r.value) for _, r in parsed.records] == [("vpdq", value), ("pdq", PDQS[0])]


def test_accounting_holds_on_mangled_files() -> None:
    """Rows mangled at random (seeded): every data row is a record or an error, never lost;
    with stray quotes too (which may join lines into one CSV record), nothing is raised and
    every reported line is a line of the file."""
    rng = random.Random(11)
    good = formats.dumps([make_record("pdq", h, note=f"n{i}") for i, h in enumerate(PDQS * 50)], "csv")
    header, *rows = good.splitlines()
    plain_junk = [b",,,,,,,,,,", b"\x00", b"pdq", b"{", "é".encode(), b"\t", b"\xff\xfe", b" "]
    for trial in range(60):
        junk = plain_junk + ([b'"', b'""', b'"x"y'] if trial % 3 == 2 else [])
        mangled = []
        for row in (r.encode() for r in rows):
            if rng.random() < 0.3:
                at = rng.randrange(len(row))
                row = row[:at] + rng.choice(junk) + row[at + rng.randrange(3):]
            mangled.append(row)
        end = b"\r\n" if trial % 2 else b"\n"
        parsed = formats.parse(end.join([header.encode(), *mangled]) + end, "csv")
        lines = sorted([line for line, _ in parsed.records] + [e.line for e in parsed.errors])
        assert len(lines) == len(set(lines)) and all(2 <= n <= len(rows) + 1 for n in lines)
        if trial % 3 != 2:  # no quotes: one line is one row
            assert lines == list(range(2, len(rows) + 2)), trial


def test_cli_skip_bad_accounts_for_every_row(run_cli, tmp_path: Path) -> None:
    long_value = _long_vpdq(5_000)
    quoted = long_value.replace('"', '""')
    rows = ["signal_type,signal_value,note", f"pdq,{PDQS[0]},a", f'vpdq,"{quoted}",long',
            f"pdq,{PDQS[0]},dup", "pdq,nothex,bad", f'md5,{MD5},"open quote', f"pdq,{PDQS[1]},z"]
    listing = tmp_path / "list.csv"
    listing.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    assert run_cli("bank", "create", "b", "--kind", "ncii").code == 0
    res = run_cli("--json", "bank", "import", "b", str(listing))
    assert res.code == 2 and "nothing was imported" in res.lines[-1]["error"]
    res = run_cli("--json", "bank", "import", "b", str(listing), "--skip-bad")
    out = res.lines[0]
    assert res.code == 3 and out["format"] == "csv"
    assert (out["added"], out["duplicates"]) == (3, 1)
    assert out["bad_rows"] == ["line 5, field signal_value: a pdq hash is 64 hex characters, got 6",
                               "line 6, field row: unterminated quote"]
    assert out["added"] + out["duplicates"] + len(out["bad_rows"]) == len(rows) - 1
    for fmt in ("csv", "jsonl", "te"):  # every export of it imports again, the long vPDQ too
        exported = tmp_path / f"out.{fmt}"
        assert run_cli("bank", "export", "b", "-o", str(exported), "--format", fmt).code == 0
        assert run_cli("bank", "create", f"copy-{fmt}", "--kind", "ncii").code == 0
        res = run_cli("--json", "bank", "import", f"copy-{fmt}", str(exported))
        assert res.code == 0 and res.lines[0]["added"] == 3, res.stdout
    again = run_cli("bank", "export", "copy-jsonl", "--format", "jsonl").stdout
    assert again == (tmp_path / "out.jsonl").read_text()
    assert any(json.loads(line)["signal_value"] == long_value for line in again.splitlines())
