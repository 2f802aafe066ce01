"""Hash-list exchange formats (documented in docs/banks.md). Round trips are lossless.

- ``csv``: the layout of a hasher-matcher-actioner bank export, one signal per row:
  ``signal_type,signal_value,content_id,quality,case_id,note,added_at,metadata``
  (``metadata`` is a JSON object; extra columns are kept in it).
- ``te``: python-threatexchange hash files, one ``signal_type signal_value`` per line,
  optionally followed by a JSON object with the other fields; ``#`` starts a comment.
- ``jsonl``: one JSON object per line with the same keys as the CSV header.

A malformed row is reported with its line and field; the caller decides whether to import
nothing (the default) or the good rows (``--skip-bad``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from consentry.match.banks.records import BankRecord, RecordError, make_record

FORMATS = ("csv", "te", "jsonl")
CSV_COLUMNS = ("signal_type", "signal_value", "content_id", "quality", "case_id", "note", "added_at",
               "metadata")


@dataclass
class RowError:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, field {self.field}: {self.reason}"


@dataclass
class Parsed:
    records: list[tuple[int, BankRecord]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def guess_format(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "te"


def parse(text: TextIO, fmt: str) -> Parsed:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    rows = {"csv": _csv_rows, "te": _te_rows, "jsonl": _jsonl_rows}[fmt](text)
    out = Parsed()
    for line, row in rows:
        if isinstance(row, RowError):
            out.errors.append(row)
            continue
        try:
            out.records.append((line, _record(row)))
        except RecordError as exc:
            out.errors.append(RowError(line, exc.field, str(exc)))
    return out


def _record(row: dict[str, Any]) -> BankRecord:
    for required in ("signal_type", "signal_value"):
        if not row.get(required):
            raise RecordError(required, "missing")
    metadata = row.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata) if metadata.strip() else {}
        except json.JSONDecodeError as exc:
            raise RecordError("metadata", f"not JSON: {exc.msg}") from None
    return make_record(
        str(row["signal_type"]), str(row["signal_value"]), quality=row.get("quality"),
        case_id=row.get("case_id"), external_id=row.get("content_id"), note=row.get("note"),
        added_at=row.get("added_at"), attributes=metadata or {},
    )


def _csv_rows(text: TextIO) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    reader = csv.DictReader(text)
    missing = [c for c in ("signal_type", "signal_value") if c not in (reader.fieldnames or [])]
    if missing:
        yield 1, RowError(1, missing[0], "the header has no such column")
        return
    for row in reader:
        line = reader.line_num
        if None in row:  # more cells than header columns
            yield line, RowError(line, "row", f"{len(reader.fieldnames or [])} columns expected")
            continue
        extra = {k: v for k, v in row.items() if k not in CSV_COLUMNS and v not in (None, "")}
        if extra:  # unknown columns survive in metadata
            meta = json.loads(row.get("metadata") or "{}") if _is_json_object(row.get("metadata")) else {}
            row["metadata"] = json.dumps({**meta, **extra})
        yield line, row


def _is_json_object(value: str | None) -> bool:
    try:
        return isinstance(json.loads(value or "{}"), dict)
    except json.JSONDecodeError:
        return False


def _te_rows(text: TextIO) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for line, raw in enumerate(text, start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 2)
        if len(parts) == 1:
            yield line, RowError(line, "signal_value", "expected 'signal_type signal_value'")
            continue
        row: dict[str, Any] = {"signal_type": parts[0], "signal_value": parts[1]}
        if len(parts) == 3:
            extra = _json_object(parts[2], line, "metadata")
            if isinstance(extra, RowError):
                yield line, extra
                continue
            row.update({k: v for k, v in extra.items() if k not in row})
        yield line, row


def _jsonl_rows(text: TextIO) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for line, raw in enumerate(text, start=1):
        if not raw.strip():
            continue
        yield line, _json_object(raw, line, "row")


def _json_object(text: str, line: int, field: str) -> dict[str, Any] | RowError:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return RowError(line, field, f"not JSON: {exc.msg}")
    if not isinstance(value, dict):
        return RowError(line, field, "must be a JSON object")
    return value


def _row(record: BankRecord) -> dict[str, Any]:
    return {
        "signal_type": record.signal,
        "signal_value": record.value,
        "content_id": record.external_id,
        "quality": record.quality,
        "case_id": record.case_id,
        "note": record.note,
        "added_at": record.added_at.isoformat() if record.added_at else None,
        "metadata": record.attributes or {},
    }


def write(records: Iterable[BankRecord], out: TextIO, fmt: str) -> int:
    n = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            row = _row(record)
            row["metadata"] = json.dumps(row["metadata"], sort_keys=True) if row["metadata"] else ""
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            n += 1
    elif fmt == "te":
        out.write("# consentry bank export: signal_type signal_value {other fields as JSON}\n")
        for record in records:
            row = _row(record)
            rest = {k: v for k, v in row.items() if k not in ("signal_type", "signal_value") and v}
            tail = " " + json.dumps(rest, sort_keys=True, separators=(",", ":")) if rest else ""
            out.write(f"{row['signal_type']} {row['signal_value']}{tail}\n")
            n += 1
    elif fmt == "jsonl":
        for record in records:
            out.write(json.dumps(_row(record), sort_keys=True) + "\n")
            n += 1
    else:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return n


def dumps(records: Iterable[BankRecord], fmt: str) -> str:
    buf = io.StringIO()
    write(records, buf, fmt)
    return buf.getvalue()
