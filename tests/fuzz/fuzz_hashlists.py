"""Fuzz the hash-list parsers (consentry.match.banks.formats): any bytes in any format give
rows and row errors, never an exception; every row read is a valid record."""

from __future__ import annotations

from pathlib import Path

import atheris
from _harness import run

with atheris.instrument_imports(include=["consentry.match.banks"]):
    from consentry.match.banks.formats import FORMATS, parse

# The first byte picks the format (or detection, for None), the rest is the file.
CHOICES = (None, *FORMATS)
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def seeds(folder: Path) -> None:
    samples = {
        "te": f"pdq {PDQ}\nvideo_md5 d41d8cd98f00b204e9800998ecf8427e\n",
        "jsonl": '{"signal_type": "pdq", "signal_value": "' + PDQ + '", "quality": 90}\n',
        "csv": f"signal_type,signal_value,quality,case_id\r\npdq,{PDQ},90,\"a, b\"\r\n",
        "te-csv": f"signal_type,signal_str,collab,category,tags\npdq,{PDQ},c,POSITIVE_CLASS,x y\n",
        "stopncii": '{"hashValue": "' + PDQ + '", "signalType": "ImagePDQ", "caseNumbers": {}}\n',
    }
    for fmt, text in samples.items():
        (folder / fmt).write_bytes(bytes([CHOICES.index(fmt)]) + b"\xef\xbb\xbf" + text.encode())


def test_one_input(data: bytes) -> None:
    if not data:
        return
    fmt = CHOICES[data[0] % len(CHOICES)]
    parsed = parse(data[1:], fmt)
    for line, _record in parsed.records + parsed.withdrawals:
        if line < 1:
            raise AssertionError(f"a row with line number {line}")
    for error in parsed.errors:
        if error.line < 0 or not error.reason:
            raise AssertionError(f"a row error without a line or reason: {error}")


if __name__ == "__main__":
    run(test_one_input, seeds)
