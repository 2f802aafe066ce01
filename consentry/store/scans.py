"""Recording scans and their items (the store side of ``consentry scan``)."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from consentry import __version__
from consentry.names import path_text
from consentry.store.db import Database
from consentry.store.tables.core import Item, Scan, utcnow
from consentry.types import ItemReport, ItemStatus


@dataclass(frozen=True)
class ScanRecord:
    """One stored scan, as the fronts see it."""

    scan_id: int
    started_at: datetime
    finished_at: datetime | None
    n_items: int
    n_errors: int
    n_flagged: int
    settings: dict[str, Any]
    status: str = "done"  # done | interrupted (stopped or killed) | running

    def as_json(self) -> dict[str, Any]:
        return {"scan_id": self.scan_id, "started_at": self.started_at,
                "finished_at": self.finished_at, "status": self.status, "n_items": self.n_items,
                "n_errors": self.n_errors, "n_flagged": self.n_flagged}


@dataclass(frozen=True)
class StoredItem:
    """One stored item: its id and its full JSON result (docs/json-schema.md)."""

    item_id: int
    scan_id: int
    path: str
    result: dict[str, Any]


def start_scan(session: Session, settings: dict[str, Any]) -> int:
    scan = Scan(settings=settings, consentry_version=__version__)
    session.add(scan)
    session.flush()
    return scan.id


def insert_items(session: Session, scan_id: int, reports: Sequence[ItemReport]) -> None:
    """Insert one row per report in one statement; sets ``item_id``."""
    rows = [{
        "scan_id": scan_id,
        "path": path_text(report.path),  # valid Unicode whatever the name's bytes
        "kind": report.kind.value if report.kind else None,
        "status": report.status.value,
        "error_code": report.error_code,
        "error": report.error,
        "size": report.size,
        "md5": report.md5,
        "sha256": report.sha256,
        "media": report.info.as_json() if report.info else None,
        "result": {},
        "signal_versions": (versions_key(report.signal_versions)
                            if report.status is ItemStatus.OK and not report.signal_errors
                            and report.known_item_id is None else None),
    } for report in reports]
    ids = session.scalars(insert(Item).returning(Item.id, sort_by_parameter_order=True), rows).all()
    for report, item_id in zip(reports, ids, strict=True):
        report.item_id = item_id


def versions_key(versions: dict[str, str]) -> str:
    """The stored form of an item's signal versions: ``name=version,...`` sorted by name."""
    return ",".join(f"{name}={versions[name]}" for name in sorted(versions))


def known_items(db: Database, versions: dict[str, str]) -> dict[str, int]:
    """SHA-256 -> the newest item analysed without error by exactly these signal versions."""
    key = versions_key(versions)
    with db.session() as session:
        rows = session.execute(select(Item.sha256, func.max(Item.id))
                               .where(Item.signal_versions == key, Item.sha256.is_not(None))
                               .group_by(Item.sha256))
        return {sha: item_id for sha, item_id in rows}


def stored_results(session: Session, item_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = session.execute(select(Item.id, Item.result).where(Item.id.in_(list(item_ids))))
    return {item_id: result for item_id, result in rows}


def finish_items(session: Session, reports: Sequence[ItemReport]) -> None:
    """Store each item's final JSON result, verdict included, once matching and policy ran."""
    session.execute(update(Item), [
        {"id": report.item_id, "result": report.as_json(), "flagged": report.flagged,
         "status": report.status.value}
        for report in reports
    ])


def finish_scan(session: Session, scan_id: int, n_items: int, n_errors: int, n_flagged: int, *,
                interrupted: bool = False) -> None:
    scan = session.get(Scan, scan_id)
    assert scan is not None
    scan.finished_at = utcnow()
    scan.n_items, scan.n_errors, scan.n_flagged = n_items, n_errors, n_flagged
    if interrupted:  # Ctrl-C or SIGTERM: closed in order, with what was stored
        scan.settings = {**(scan.settings or {}), "interrupted": True}


def list_scans(db: Database, limit: int = 50) -> list[ScanRecord]:
    """The most recent scans, newest first. A scan that never closed (killed, or still
    running) counts the items it actually stored."""
    with db.session() as session:
        return [_scan_record(s, session) for s in
                session.scalars(select(Scan).order_by(Scan.id.desc()).limit(limit))]


def get_scan(db: Database, scan_id: int) -> ScanRecord | None:
    with db.session() as session:
        scan = session.get(Scan, scan_id)
        return _scan_record(scan, session) if scan is not None else None


def scan_items(db: Database, scan_id: int) -> list[StoredItem]:
    """The items of one scan in the order they were stored."""
    with db.session() as session:
        rows = session.execute(select(Item.id, Item.scan_id, Item.path, Item.result)
                               .where(Item.scan_id == scan_id).order_by(Item.id))
        return [StoredItem(row.id, row.scan_id, row.path, row.result) for row in rows]


def _scan_record(scan: Scan, session: Session) -> ScanRecord:
    settings = dict(scan.settings or {})
    if scan.finished_at is not None:
        status = "interrupted" if settings.get("interrupted") else "done"
        return ScanRecord(scan.id, scan.started_at, scan.finished_at, scan.n_items, scan.n_errors,
                          scan.n_flagged, settings, status)
    n_items, n_errors, n_flagged = session.execute(
        select(func.count(), func.count().filter(Item.status == "error"),
               func.count().filter(Item.flagged.is_(True))).where(Item.scan_id == scan.id)).one()
    status = "running" if _owner_alive(str(settings.get("owner") or "")) else "interrupted"
    return ScanRecord(scan.id, scan.started_at, None, n_items, n_errors, n_flagged, settings, status)


def _owner_alive(owner: str) -> bool:
    """Whether the process that started a scan (``host:pid``) still runs. On another host we
    cannot tell, so it counts as running."""
    alive = local_process_alive(owner)
    return alive if alive is not None else owner.rpartition(":")[2].isdigit()


def local_process_alive(owner: str) -> bool | None:
    """Whether the ``host:pid`` owner of a scan or backfill still runs (a zombie, killed but
    not yet reaped, does not); None when it is not a process of this host (cannot tell)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"
