"""The bank matcher: every scanned item against every enabled hash bank.

Images: PDQ within each bank's threshold (all 8 dihedral hashes for banks that ask for
rotation/flip robustness), above the bank's quality gate. Videos: Meta's vPDQ rule. Both: MD5
and SHA-256 exactly. JSON gains ``matches: [{bank, kind, signal, hash, distance, ...}]``; an
allow-bank match is listed too (kind ``allow``) and stops the item being flagged by the
others (see policy.base.FlagOnMatchPolicy). A bank with an enabled ratio below 1 enforces its
matches on a stable sample of items only; the others go to ``matches_held_back``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentry.match.banks import index as bank_index
from consentry.match.banks import video
from consentry.match.banks.records import parse_vpdq
from consentry.match.base import Matcher
from consentry.signals.hashing.mih import MIHIndex, hex_to_words
from consentry.signals.hashing.pdq import distance
from consentry.store.db import Database
from consentry.store.tables.banks import Bank, BankEntry, BankMatch
from consentry.types import ItemReport, MediaKind


@dataclass
class _Hit:
    entry: BankEntry
    bank: Bank
    signal: str
    hash: str
    distance: int
    transform: str | None = None
    details: dict[str, Any] | None = None


class BankMatcher(Matcher):
    name = "banks"
    inputs = ()  # MD5/SHA-256 matching needs no signal; PDQ/vPDQ come from ``hash``

    def __init__(self, db: Database, indexes: dict[str, MIHIndex], banks: list[Bank]) -> None:
        self.db = db
        self.indexes = indexes
        self.max_threshold = max(b.threshold for b in banks)
        self.min_quality = min(b.quality_min for b in banks)
        self.needs_dihedral = any(b.dihedral for b in banks)

    @classmethod
    def load(cls, db: Database) -> BankMatcher | None:
        with db.session() as session:
            banks = list(session.scalars(select(Bank).where(Bank.enabled.is_(True))))
            if not banks or session.scalar(select(BankEntry.id).limit(1)) is None:
                return None
        return cls(db, bank_index.sync(db), banks)

    def match(self, report: ItemReport, session: Session) -> None:
        hits = self._exact(report, session)
        fields = report.findings()
        if report.kind is MediaKind.IMAGE and fields.get("pdq"):
            hits += self._image(fields["pdq"], _dihedral_rows(report), session)
        elif report.kind is MediaKind.VIDEO and fields.get("vpdq"):
            hits += self._video(fields["vpdq"], session)
        self._record(report, hits, session)

    # -- lookups ----------------------------------------------------------------------

    def _exact(self, report: ItemReport, session: Session) -> list[_Hit]:
        wanted = [(s, h) for s, h in (("md5", report.md5), ("sha256", report.sha256)) if h]
        hits = []
        for signal, value in wanted:
            condition = (BankEntry.signal == signal) & (BankEntry.value_key == value)
            for entry, bank in _active(session, condition):
                hits.append(_Hit(entry, bank, signal, value, 0))
        return hits

    def _image(self, pdq: dict[str, Any], dihedral: list[dict[str, Any]],
               session: Session) -> list[_Hit]:
        queries = [(pdq["hash"], pdq["quality"], None)]
        if self.needs_dihedral:
            for row in dihedral[1:]:
                queries.append((row["hash"], row["quality"], row["transform"]))
        rows, payload, dist = self.indexes["pdq"].search(hex_to_words(q[0] for q in queries),
                                                         self.max_threshold)
        best: dict[int, _Hit] = {}
        entries = _entries_by_id(session, payload)
        for row, entry_id, d in zip(rows.tolist(), payload.tolist(), dist.tolist(), strict=True):
            if entry_id not in entries:
                continue  # withdrawn, deleted or its bank is disabled: stops matching at once
            entry, bank = entries[entry_id]
            hash_hex, quality, transform = queries[row]
            if distance(hash_hex, entry.value) != d:
                continue  # the index is a cache: trust the database's value, never a stale row
            if d > bank.threshold or quality < bank.quality_min or (transform and not bank.dihedral):
                continue
            if entry_id not in best or d < best[entry_id].distance:
                best[entry_id] = _Hit(entry, bank, "pdq", hash_hex, int(d), transform or None)
        return list(best.values())

    def _video(self, frames: list[dict[str, Any]], session: Session) -> list[_Hit]:
        pairs = [(f["hash"], int(f["quality"])) for f in frames]
        probe = video.unique_good_frames(pairs, self.min_quality)
        if not probe:
            return []
        _rows, payload, _dist = self.indexes["vpdq"].search(hex_to_words(probe), self.max_threshold)
        hits = []
        for entry, bank in _entries_by_id(session, np.unique(payload)).values():
            query = video.unique_good_frames(pairs, bank.quality_min)
            target = video.unique_good_frames(
                [(f.hash, f.quality) for f in parse_vpdq(entry.value)], bank.quality_min)
            result = video.compare(query, target, bank.threshold)
            if (result is None or result.query_match_pct < bank.video_query_pct
                    or result.target_match_pct < bank.video_target_pct):
                continue
            hits.append(_Hit(entry, bank, "vpdq", entry.value_key, result.min_distance, None,
                             {"query_match_pct": result.query_match_pct,
                              "target_match_pct": result.target_match_pct}))
        return hits

    # -- recording --------------------------------------------------------------------

    def _record(self, report: ItemReport, hits: list[_Hit], session: Session) -> None:
        enforced, held_back = [], []
        for hit in sorted(hits, key=lambda h: (h.bank.name, h.distance, h.entry.id)):
            in_rollout = _in_rollout(hit.bank, report)
            out = {"bank": hit.bank.name, "kind": hit.bank.kind, "signal": hit.signal,
                   "hash": hit.hash, "distance": hit.distance, "entry_id": hit.entry.id,
                   "case_id": hit.entry.case_id}
            if hit.transform:
                out["transform"] = hit.transform
            if hit.details:
                out.update(hit.details)
            (enforced if in_rollout else held_back).append(out)
            session.add(BankMatch(item_id=report.item_id, bank_id=hit.bank.id, entry_id=hit.entry.id,
                                  signal=hit.signal, hash=hit.hash, distance=hit.distance,
                                  transform=hit.transform, enforced=in_rollout,
                                  details=hit.details or {}))
        report.fields["matches"] = enforced
        if held_back:
            report.fields["matches_held_back"] = held_back


def _dihedral_rows(report: ItemReport) -> list[dict[str, Any]]:
    """The 8 dihedral PDQ rows the hash signal left in its payload (original first)."""
    result = report.results.get("hash")
    payload = result.payload if result is not None and isinstance(result.payload, dict) else {}
    return list(payload.get("pdq_dihedral") or [])


def _active(session: Session, condition: Any) -> list[tuple[BankEntry, Bank]]:
    rows = session.execute(
        select(BankEntry, Bank).join(Bank, Bank.id == BankEntry.bank_id)
        .where(condition, BankEntry.withdrawn_at.is_(None), Bank.enabled.is_(True)))
    return [(entry, bank) for entry, bank in rows]


def _entries_by_id(session: Session, ids: np.ndarray) -> dict[int, tuple[BankEntry, Bank]]:
    unique = sorted(set(np.asarray(ids).tolist()))
    found: dict[int, tuple[BankEntry, Bank]] = {}
    for lo in range(0, len(unique), 500):  # keep IN lists small
        for entry, bank in _active(session, BankEntry.id.in_(unique[lo : lo + 500])):
            found[entry.id] = (entry, bank)
    return found


def _in_rollout(bank: Bank, report: ItemReport) -> bool:
    """A stable per-item sample: the same item is always in or out for a given bank."""
    if bank.enabled_ratio >= 1.0:
        return True
    key = f"{bank.name}\0{report.sha256 or report.path}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64 < bank.enabled_ratio

