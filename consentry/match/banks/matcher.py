"""The bank matcher: every scanned item against every enabled hash bank, for every registered
hash type (``consentry.signals.hashing.catalogue``).

Types with an MIH index (PDQ, vPDQ) find candidate entries there, and the type's own rule
decides each one with the bank's settings (PDQ: distance within the threshold above the
quality gate, all 8 dihedral hashes for banks that ask for rotations and flips; vPDQ: Meta's
video rule). Digest types (MD5, SHA-256) are looked up exactly. JSON gains
``matches: [Match.as_json()]``; an allow-bank match is listed too (kind ``allow``) and the
policy keeps the item from being flagged by the others. A bank with an enabled ratio below 1
enforces its matches on a stable sample of items only; the others go to ``matches_held_back``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentry.match.banks import index as bank_index
from consentry.match.base import Matcher
from consentry.signals.hashing import catalogue
from consentry.signals.hashing.base import ExactLookup, HashType, ItemHash, MatchSettings, item_fields
from consentry.signals.hashing.mih import MIHIndex, hex_to_words
from consentry.store.db import Database
from consentry.store.tables.banks import Bank, BankEntry, BankMatch
from consentry.types import ItemReport, Match


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
        hits: list[tuple[Match, Bank]] = []
        for htype in catalogue.all_types():
            if htype.index is ExactLookup:
                hits += self._exact(htype, report, session)
            elif htype.name in self.indexes:
                hits += self._near(htype, htype.queries(report), session)
        self._record(report, hits, session)

    # -- lookups ----------------------------------------------------------------------

    def _exact(self, htype: type[HashType], report: ItemReport, session: Session
               ) -> list[tuple[Match, Bank]]:
        hits = []
        for value in dict.fromkeys(h.value for h in htype.from_item(item_fields(report))):
            condition = (BankEntry.signal == htype.name) & (BankEntry.value_key == htype.value_key(value))
            for entry, bank in _active(session, condition):
                hits.append((_match(bank, entry, htype.name, value, 0), bank))
        return hits

    def _near(self, htype: type[HashType], queries: list[ItemHash], session: Session
              ) -> list[tuple[Match, Bank]]:
        probe = [q for q in queries
                 if (q.quality is None or q.quality >= self.min_quality)
                 and (not q.dihedral or self.needs_dihedral)]
        values = list(dict.fromkeys(q.value for q in probe))
        if not values:
            return []
        _rows, payload, _dist = self.indexes[htype.name].search(hex_to_words(values), self.max_threshold)
        hits = []
        # The index is a cache: each candidate is decided on the database's value, and a
        # withdrawn entry or a disabled bank is not among the candidates (stops at once).
        for entry, bank in _entries_by_id(session, payload).values():
            found = htype.compare_entry(probe, entry.value, _settings(bank))
            if found is not None:
                hits.append((_match(bank, entry, htype.name, found.hash, found.distance,
                                    found.transform, found.details), bank))
        return hits

    # -- recording --------------------------------------------------------------------

    def _record(self, report: ItemReport, hits: list[tuple[Match, Bank]], session: Session) -> None:
        enforced, held_back = [], []
        for match, bank in sorted(hits, key=lambda h: (h[0].bank, h[0].distance, h[0].entry_id)):
            in_rollout = _in_rollout(bank, report)
            (enforced if in_rollout else held_back).append(match)
            session.add(BankMatch(item_id=report.item_id, bank_id=bank.id, entry_id=match.entry_id,
                                  signal=match.signal, hash=match.hash, distance=match.distance,
                                  transform=match.transform, enforced=in_rollout,
                                  details=dict(match.details)))
        report.fields["matches"] = [m.as_json() for m in enforced]
        if held_back:
            report.fields["matches_held_back"] = [m.as_json() for m in held_back]


def _match(bank: Bank, entry: BankEntry, signal: str, hash_value: str, distance: int,
           transform: str | None = None, details: tuple[tuple[str, Any], ...] = ()) -> Match:
    return Match(bank=bank.name, kind=bank.kind, signal=signal, hash=hash_value, distance=int(distance),
                 entry_id=entry.id, case_id=entry.case_id, transform=transform or None, details=details)


def _settings(bank: Bank) -> MatchSettings:
    return MatchSettings(bank.threshold, bank.quality_min, bank.dihedral, bank.video_query_pct,
                         bank.video_target_pct)


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
