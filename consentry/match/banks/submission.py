"""The victim-side submission format: reading, writing and validating it.

A submission (``consentry hash FILES -o submission.json``) holds only hashes: PDQ + MD5 for
images, vPDQ + MD5 for videos; no media, and no file names unless asked. Format (version 1,
documented in docs/banks.md)::

    {"format": "consentry.submission", "version": 1, "generator": "consentry 0.1.0",
     "created": "2026-11-27", "video_fps": 1.0, "n_unreadable": 0,
     "items": [{"kind": "image", "pdq": {"hash": "<64 hex>", "quality": 100}, "md5": "<32 hex>"},
               {"kind": "video", "md5": "<32 hex>",
                "vpdq": [{"hash": "<64 hex>", "quality": 100, "timestamp": 0.0}, ...]}]}

The hashing itself is the scan's own analysis (``consentry.pipeline.hashing.hash_paths``);
this module only knows the format. An item holds, under each hash type's name, the value a
bank would keep from it (``HashType.bank_values``), so a new hash type needs no change here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consentry import __version__
from consentry.match.banks.records import BankRecord, RecordError, records_from_item
from consentry.signals.hashing import catalogue
from consentry.signals.hashing.base import item_fields
from consentry.types import ItemReport, ItemStatus

FORMAT = "consentry.submission"
VERSION = 1


class SubmissionError(ValueError):
    pass


def submission_item(report: ItemReport, *, keep_name: bool = False) -> dict[str, Any] | None:
    """The hashes of one hashed item, or None when it has none (unreadable, not media)."""
    if report.status is not ItemStatus.OK or report.kind is None:
        return None  # a partly unreadable video: do not submit half a hash list
    fields = item_fields(report)
    item: dict[str, Any] = {"kind": report.kind.value}
    perceptual = False
    for htype in catalogue.all_types():
        if htype.bank_values(fields):
            item[htype.name] = _submitted(fields[htype.name])
            perceptual |= not htype.file_digest
    if not perceptual:
        return None
    if keep_name:
        item["name"] = report.path.name
    return item


def _submitted(value: Any) -> Any:
    """The item JSON's value, less what a submission does not carry (video frame numbers)."""
    if isinstance(value, list):
        return [{k: v for k, v in f.items() if k != "frame"} if isinstance(f, dict) else f for f in value]
    return dict(value) if isinstance(value, dict) else value


def build(items: list[dict[str, Any]], *, video_fps: float | None, n_unreadable: int) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "generator": f"consentry {__version__}",
            "created": datetime.now(UTC).date().isoformat(), "video_fps": video_fps,
            "n_unreadable": n_unreadable, "items": items}


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

