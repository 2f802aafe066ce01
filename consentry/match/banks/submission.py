"""Hashing media into bank records, and the victim-side submission format.

A submission (``consentry hash FILES -o submission.json``) holds only hashes: PDQ + MD5 for
images, vPDQ + MD5 for videos; no media, and no file names unless asked. Format (version 1,
documented in docs/banks.md)::

    {"format": "consentry.submission", "version": 1, "generator": "consentry 0.1.0",
     "created": "2026-11-27", "video_fps": 1.0, "n_unreadable": 0,
     "items": [{"kind": "image", "pdq": {"hash": "<64 hex>", "quality": 100}, "md5": "<32 hex>"},
               {"kind": "video", "md5": "<32 hex>",
                "vpdq": [{"hash": "<64 hex>", "quality": 100, "timestamp": 0.0}, ...]}]}

Hashing reuses the scan's own analyser (same decoding, limits and PDQ/vPDQ code), in this
process or worker processes, with no database and no network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consentry import __version__
from consentry.match.banks.records import BankRecord, RecordError, make_record, vpdq_value
from consentry.pipeline.runner import analyse_paths
from consentry.settings import ScanSettings
from consentry.signals import catalog as registry
from consentry.types import ItemReport, ItemStatus, MediaKind

FORMAT = "consentry.submission"
VERSION = 1


class SubmissionError(ValueError):
    pass


def hash_paths(paths: list[Path], *, video_fps: float | None = 1.0, workers: int = 1
               ) -> Iterator[ItemReport]:
    """Reports with only the ``hash`` signal run (walk problems come back as failed reports)."""
    settings = ScanSettings(video_fps=video_fps, signals=("hash",))
    yield from analyse_paths(paths, settings, registry.resolve(("hash",)), workers)


def submission_item(report: ItemReport, *, keep_name: bool = False) -> dict[str, Any] | None:
    """The hashes of one hashed item, or None when it has none (unreadable, not media)."""
    fields = report.findings()
    item: dict[str, Any]
    if report.kind is MediaKind.IMAGE and fields.get("pdq"):
        item = {"kind": "image", "pdq": dict(fields["pdq"]), "md5": report.md5}
    elif report.kind is MediaKind.VIDEO and fields.get("vpdq"):
        frames = [{"hash": f["hash"], "quality": f["quality"], "timestamp": f["timestamp"]}
                  for f in fields["vpdq"]]
        item = {"kind": "video", "vpdq": frames, "md5": report.md5}
    else:
        return None
    if report.status is not ItemStatus.OK:
        return None  # a partly unreadable video: do not submit half a hash list
    if keep_name:
        item["name"] = report.path.name
    return item


def build(items: list[dict[str, Any]], *, video_fps: float | None, n_unreadable: int) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "generator": f"consentry {__version__}",
            "created": datetime.now(UTC).date().isoformat(), "video_fps": video_fps,
            "n_unreadable": n_unreadable, "items": items}


def records_from_item(item: dict[str, Any]) -> list[BankRecord]:
    """Bank records for one submission or scan item (raises RecordError)."""
    name = item.get("name")
    attrs = {"name": name} if name else {}
    records = []
    if item.get("pdq"):
        pdq = item["pdq"]
        records.append(make_record("pdq", str(pdq.get("hash", "")), quality=pdq.get("quality"),
                                   attributes=attrs))
    if item.get("vpdq"):
        try:
            value = vpdq_value(item["vpdq"])
        except (KeyError, TypeError, ValueError):
            raise RecordError("vpdq", "frames need hash, quality and timestamp") from None
        records.append(make_record("vpdq", value, attributes=attrs))
    if item.get("md5"):
        records.append(make_record("md5", str(item["md5"]), attributes=attrs))
    if not records:
        raise RecordError("item", "has no pdq, vpdq or md5")
    return records


def read(path: Path) -> list[BankRecord]:
    """Validate a submission file; any bad item is an error naming the item and field."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SubmissionError(f"{path}: not a readable JSON submission ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SubmissionError(f"{path}: not a consentry submission (format {FORMAT!r} expected)")
    if data.get("version") != VERSION:
        raise SubmissionError(f"{path}: submission version {data.get('version')!r} is not supported "
                              f"(this consentry reads version {VERSION})")
    records = []
    for n, item in enumerate(data.get("items") or []):
        try:
            if not isinstance(item, dict):
                raise RecordError("item", "must be a JSON object")
            records.extend(records_from_item(item))
        except RecordError as exc:
            raise SubmissionError(f"{path}: item {n}, field {exc.field}: {exc}") from None
    return records

