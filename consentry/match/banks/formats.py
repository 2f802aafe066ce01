"""Hash-list formats (docs/banks.md has an example of each and which system writes it).

- ``jsonl``: Consentry's own, lossless: one JSON object per line with the keys of ``CSV_COLUMNS``.
- ``csv``: Consentry's own, lossless: the same columns (``metadata`` a JSON object; extra
  columns are kept in it).
- ``te``: python-threatexchange's ``local_file`` collaboration: ``<signal_type> <signal>`` per
  line, names and values as pytx writes them (``pdq``, ``vpdq``, ``video_md5``, ...). Nothing
  else: our metadata would become part of pytx's hash (use ``jsonl`` to keep it).
- ``te-csv``: pytx's ``dataset --csv``: ``signal_type,signal_str,collab,category,tags``.
- ``stopncii``: StopNCII hash records as pytx's ``StopNCIIHashRecord`` models them, one JSON
  record (or a FetchHashes page holding ``hashRecords``) per line; a Withdrawn or Deleted
  record withdraws the entry.

Reading streams (a file of millions of rows is never held in memory), accepts a UTF-8 byte
order mark and CRLF line ends, and yields every row as a ``Row`` or a ``RowError`` with its
line: a row the parser cannot read (bad UTF-8, an unterminated quote, a record over
``MAX_RECORD_BYTES``) is reported, never dropped, and reading goes on with the next line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, TextIO

from consentry.match.banks.lines import (
    CsvFeed,
    Lines,
    Unreadable,
    bad_line,
    csv_reason,
)
from consentry.match.banks.records import MEDIA_KEY, BankRecord, RecordError, hash_type, make_record

FORMATS = ("jsonl", "csv", "te", "te-csv", "stopncii")
CSV_COLUMNS = ("signal_type", "signal_value", "content_id", "quality", "case_id", "note", "added_at",
               "metadata")
TE_CSV_COLUMNS = ("signal_type", "signal_str", "collab", "category", "tags")
# pytx's SignalOpinionCategory names; NEGATIVE_CLASS entries belong in an allow bank.
CATEGORIES = ("POSITIVE_CLASS", "NEGATIVE_CLASS", "INVESTIGATION_SEED")
STOPNCII_TYPES = {"ImagePDQ": "pdq", "VideoMD5": "video_md5"}
STOPNCII_WITHDRAWN = ("Withdrawn", "Deleted")


@dataclass
class RowError:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, field {self.field}: {self.reason}"


@dataclass
class Row:
    line: int
    record: BankRecord
    withdraw: bool = False  # the source says this entry is withdrawn (StopNCII)


@dataclass
class Parsed:
    records: list[tuple[int, BankRecord]]
    errors: list[RowError]
    withdrawals: list[tuple[int, BankRecord]]


def read(stream: IO[bytes], fmt: str | None = None, *, bank_kind: str | None = None
         ) -> Iterator[Row | RowError]:
    """Every data row of a hash list, in order. ``fmt`` None: detected from the content.
    ``bank_kind``: the receiving bank's kind, to refuse pytx categories that do not fit it."""
    fmt = fmt or detect(stream)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    lines = Lines(stream)
    if fmt in ("csv", "te-csv"):
        for line, row in _csv_rows(lines, fmt):
            yield row if isinstance(row, RowError) else _checked(line, row, fmt, bank_kind)
        return
    reader = {"te": _te_rows, "jsonl": _jsonl_rows, "stopncii": _stopncii_rows}[fmt]
    for line, text in lines.text():
        if text is None:
            yield RowError(line, "row", bad_line(lines, line))
            continue
        if not text.strip() or (fmt == "te" and text.lstrip().startswith("#")):
            continue
        for row in reader(line, text):
            yield row if isinstance(row, RowError) else _checked(line, row, fmt, bank_kind)


def detect(stream: IO[bytes]) -> str:
    """The format of a hash list from its first data line (the stream is rewound)."""
    start = stream.tell()
    first = ""
    for _ in range(1000):
        data = stream.readline(1 << 16)
        if not data:
            break
        text = data.decode("utf-8", "replace").lstrip("\ufeff").strip()
        if text and not text.startswith("#"):
            first = text
            break
    stream.seek(start)
    if first.startswith("{"):
        return "stopncii" if '"hashValue"' in first or '"hashRecords"' in first else "jsonl"
    header = [c.strip().strip('"').lower() for c in first.split(",")]
    if header and header[0] == "signal_type" and len(header) > 1:
        return "te-csv" if "signal_str" in header else "csv"
    return "te"


def guess_format(name: str) -> str:
    """The export format an output file name suggests."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "te"


def parse(text: TextIO | str | bytes, fmt: str | None = None, *, bank_kind: str | None = None) -> Parsed:
    """All rows at once (small lists and tests; imports stream with ``read``)."""
    if isinstance(text, str):
        data = text.encode("utf-8")
    elif isinstance(text, bytes):
        data = text
    else:
        data = text.read().encode("utf-8")
    out = Parsed([], [], [])
    for row in read(io.BytesIO(data), fmt, bank_kind=bank_kind):
        if isinstance(row, RowError):
            out.errors.append(row)
        else:
            (out.withdrawals if row.withdraw else out.records).append((row.line, row.record))
    return out


# -- rows: every reader yields (line, dict of fields) or a RowError -------------------------


def _checked(line: int, row: dict[str, Any], fmt: str, bank_kind: str | None) -> Row | RowError:
    try:
        withdraw = bool(row.pop("_withdraw", False))
        record = _record(row)
    except RecordError as exc:
        return RowError(line, exc.field, str(exc))
    category = record.attributes.get("category")
    if bank_kind is not None and category is not None:
        if category == "NEGATIVE_CLASS" and bank_kind != "allow":
            return RowError(line, "category", "NEGATIVE_CLASS (known not harmful) belongs in an allow "
                            f"bank, not a {bank_kind} bank")
        if category == "POSITIVE_CLASS" and bank_kind == "allow":
            return RowError(line, "category", "POSITIVE_CLASS (harmful) does not belong in an allow bank")
    return Row(line, record, withdraw)


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
    if not isinstance(row["signal_type"], str) or not isinstance(row["signal_value"], str):
        field = "signal_type" if not isinstance(row["signal_type"], str) else "signal_value"
        raise RecordError(field, "must be text")
    return make_record(
        row["signal_type"], row["signal_value"], quality=row.get("quality"),
        case_id=row.get("case_id"), external_id=row.get("content_id"), note=row.get("note"),
        added_at=row.get("added_at"), attributes=metadata or {},
    )


def _csv_rows(lines: Lines, fmt: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    feed = CsvFeed(lines)
    reader = csv.reader(feed, strict=True)
    header: list[str] | None = None
    while True:
        start_line, start_offset = lines.line, lines.offset
        feed.new_record()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, Unreadable) as exc:
            line = start_line + 1
            reason = exc.reason if isinstance(exc, Unreadable) else csv_reason(exc)
            yield line, RowError(line, "row", reason)
            # Resume on the line after the one the bad record started on.
            lines.seek_line(start_line, start_offset)
            next(iter(lines.raw()), None)
            feed = CsvFeed(lines)
            reader = csv.reader(feed, strict=True)
            if header is None:
                return
            continue
        line = start_line + 1
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = [c.strip() for c in cells]
            want = ("signal_type", "signal_str") if fmt == "te-csv" else ("signal_type", "signal_value")
            missing = [c for c in want if c not in header]
            if missing:
                yield line, RowError(line, missing[0], "the header has no such column")
                return
            continue
        if len(cells) > len(header):
            yield line, RowError(line, "row", f"{len(header)} columns expected, got {len(cells)}")
            continue
        values = dict(zip(header, cells, strict=False))
        yield line, (_te_csv_fields(line, values) if fmt == "te-csv" else _csv_fields(values))


def _csv_fields(values: dict[str, str]) -> dict[str, Any] | RowError:
    extra = {k: v for k, v in values.items() if k not in CSV_COLUMNS and v not in (None, "")}
    row: dict[str, Any] = {k: v for k, v in values.items() if k in CSV_COLUMNS}
    if extra:  # unknown columns survive in metadata
        meta = _json_object(row.get("metadata") or "{}")
        row["metadata"] = json.dumps({**(meta if isinstance(meta, dict) else {}), **extra})
    return row


def _te_csv_fields(line: int, values: dict[str, str]) -> dict[str, Any] | RowError:
    attributes: dict[str, Any] = {}
    if values.get("collab"):
        attributes["collab"] = values["collab"]
    category = (values.get("category") or "").strip()
    if category:
        if category not in CATEGORIES:
            return RowError(line, "category", f"{category!r} is not one of {', '.join(CATEGORIES)}")
        attributes["category"] = category
    tags = (values.get("tags") or "").split()
    if tags:
        attributes["tags"] = tags
    return {"signal_type": values.get("signal_type"), "signal_value": values.get("signal_str"),
            "metadata": attributes}


def _te_rows(line: int, text: str) -> Iterator[dict[str, Any] | RowError]:
    # As pytx's LocalFileSignalExchangeAPI reads it: the type, one space, the rest is the signal.
    signal_type, _, signal = text.strip().partition(" ")
    if not signal.strip():
        yield RowError(line, "signal_value", "expected '<signal_type> <signal>'")
        return
    yield {"signal_type": signal_type, "signal_value": signal.strip()}


def _jsonl_rows(line: int, text: str) -> Iterator[dict[str, Any] | RowError]:
    value = _json_object(text)
    yield RowError(line, "row", value) if isinstance(value, str) else value


def _stopncii_rows(line: int, text: str) -> Iterator[dict[str, Any] | RowError]:
    value = _json_object(text)
    if isinstance(value, str):
        yield RowError(line, "row", value)
        return
    records = value.get("hashRecords") if "hashRecords" in value else [value]
    if not isinstance(records, list):
        yield RowError(line, "hashRecords", "must be a list")
        return
    for record in records:
        yield _stopncii_fields(line, record)


def _stopncii_fields(line: int, record: Any) -> dict[str, Any] | RowError:
    if not isinstance(record, dict):
        return RowError(line, "row", "a hash record must be a JSON object")
    signal_type = record.get("signalType")
    if signal_type not in STOPNCII_TYPES:
        return RowError(line, "signalType", f"{signal_type!r} is not a type Consentry matches "
                        f"(known: {', '.join(STOPNCII_TYPES)})")
    status = record.get("hashStatus")
    cases = record.get("caseNumbers") or {}  # some responses send [] for no cases
    if not isinstance(cases, dict):
        return RowError(line, "caseNumbers", "must be an object of case number: status")
    kept = {k: record[k] for k in ("lastModtimestamp", "hashStatus", "caseNumbers", "CSPFeedbacks")
            if record.get(k) not in (None, [], {})}
    row: dict[str, Any] = {"signal_type": STOPNCII_TYPES[signal_type],
                           "signal_value": record.get("hashValue"), "metadata": {"stopncii": kept},
                           "_withdraw": status in STOPNCII_WITHDRAWN}
    if cases:
        row["case_id"] = sorted(cases)[0]
    modified = record.get("lastModtimestamp")
    if isinstance(modified, int) and modified > 0:
        row["added_at"] = datetime.fromtimestamp(modified, UTC).isoformat()
    return row


def _json_object(text: str) -> dict[str, Any] | str:
    """The JSON object in ``text``, or the reason it is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg}"
    except RecursionError:
        return "not JSON: nested too deep"
    if not isinstance(value, dict):
        return "must be a JSON object"
    return value


# -- writing -------------------------------------------------------------------------------


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


def write(records: Iterable[BankRecord], out: TextIO, fmt: str, *, bank_kind: str | None = None,
          collab: str = "", skipped: list[BankRecord] | None = None) -> int:
    """Write ``records`` (any iterable: streamed); returns how many were written. Records a
    format cannot hold (e.g. a vPDQ in ``stopncii``) go to ``skipped`` when given."""
    n = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            row = _row(record)
            row["metadata"] = json.dumps(row["metadata"], sort_keys=True) if row["metadata"] else ""
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            n += 1
    elif fmt == "jsonl":
        for record in records:
            out.write(json.dumps(_row(record), sort_keys=True) + "\n")
            n += 1
    elif fmt == "te":
        for record in records:
            out.write(f"{record.exchange_name} {record.value}\n")
            n += 1
    elif fmt == "te-csv":
        te_writer = csv.DictWriter(out, fieldnames=TE_CSV_COLUMNS)  # pytx's dialect: CRLF
        te_writer.writeheader()
        for record in records:
            attrs = record.attributes
            category = "NEGATIVE_CLASS" if bank_kind == "allow" else str(attrs.get("category")
                                                                        or "POSITIVE_CLASS")
            te_writer.writerow({"signal_type": record.exchange_name, "signal_str": record.value,
                                "collab": attrs.get("collab") or collab, "category": category,
                                "tags": " ".join(str(t) for t in attrs.get("tags") or [])})
            n += 1
    elif fmt == "stopncii":
        for record in records:
            item = _stopncii_record(record)
            if item is None:
                if skipped is not None:
                    skipped.append(record)
                continue
            out.write(json.dumps(item, sort_keys=True) + "\n")
            n += 1
    else:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return n


def _stopncii_record(record: BankRecord) -> dict[str, Any] | None:
    names = {v: k for k, v in STOPNCII_TYPES.items()}
    signal_type = names.get(record.exchange_name)
    if signal_type is None:
        return None
    kept = dict(record.attributes.get("stopncii") or {})
    modified = int(record.added_at.timestamp()) if record.added_at else 0
    cases = kept.get("caseNumbers") or ({record.case_id: "Active"} if record.case_id else {})
    return {"lastModtimestamp": kept.get("lastModtimestamp", modified), "signalType": signal_type,
            "hashValue": record.value, "hashStatus": "Active", "caseNumbers": cases,
            "CSPFeedbacks": kept.get("CSPFeedbacks", [])}


def dumps(records: Iterable[BankRecord], fmt: str, **options: Any) -> str:
    buf = io.StringIO()
    write(records, buf, fmt, **options)
    return buf.getvalue()


__all__ = ["CSV_COLUMNS", "FORMATS", "MEDIA_KEY", "Parsed", "Row", "RowError", "detect", "dumps",
           "hash_type", "parse", "read", "write"]
