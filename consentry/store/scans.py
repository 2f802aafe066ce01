"""Recording scans and their items (the store side of ``consentry scan``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from consentry import __version__
from consentry.store.tables.core import Item, ItemHash, Scan, utcnow
from consentry.types import ItemReport


def start_scan(session: Session, settings: dict[str, Any]) -> int:
    scan = Scan(settings=settings, consentry_version=__version__)
    session.add(scan)
    session.flush()
    return scan.id


def insert_items(session: Session, scan_id: int, reports: Sequence[ItemReport]) -> None:
    """Insert one row per report (and its hash rows) in one statement; sets ``item_id``."""
    rows = [{
        "scan_id": scan_id,
        "path": str(report.path),
        "kind": report.kind.value if report.kind else None,
        "status": report.status.value,
        "error_code": report.error_code,
        "error": report.error,
        "size": report.size,
        "md5": report.md5,
        "sha256": report.sha256,
        "media": report.info.as_json() if report.info else None,
        "result": {},
    } for report in reports]
    ids = session.scalars(insert(Item).returning(Item.id, sort_by_parameter_order=True), rows).all()
    hashes = []
    for report, item_id in zip(reports, ids, strict=True):
        report.item_id = item_id
        hashes.extend(row | {"item_id": item_id} for row in _hash_rows(report))
    if hashes:
        session.execute(insert(ItemHash), hashes)


def finish_items(session: Session, reports: Sequence[ItemReport]) -> None:
    """Store each item's final JSON result, verdict included, once matching and policy ran."""
    session.execute(update(Item), [
        {"id": report.item_id, "result": report.as_json(), "flagged": report.flagged,
         "status": report.status.value}
        for report in reports
    ])


def _hash_rows(report: ItemReport) -> list[dict[str, Any]]:
    fields = report.findings()
    rows = []
    if pdq := fields.get("pdq"):
        rows.append({"signal": "pdq", "hash": pdq["hash"], "quality": pdq["quality"],
                     "frame": None, "timestamp": None})
    for frame in fields.get("vpdq") or []:
        rows.append({"signal": "vpdq", "hash": frame["hash"], "quality": frame["quality"],
                     "frame": frame["frame"], "timestamp": frame["timestamp"]})
    return rows


def finish_scan(session: Session, scan_id: int, n_items: int, n_errors: int, n_flagged: int) -> None:
    scan = session.get(Scan, scan_id)
    assert scan is not None
    scan.finished_at = utcnow()
    scan.n_items, scan.n_errors, scan.n_flagged = n_items, n_errors, n_flagged


def list_scans(session: Session, limit: int = 50) -> Sequence[Scan]:
    return session.scalars(select(Scan).order_by(Scan.id.desc()).limit(limit)).all()


def scan_items(session: Session, scan_id: int) -> Sequence[Item]:
    return session.scalars(select(Item).where(Item.scan_id == scan_id).order_by(Item.id)).all()
