"""Match every face track of a scanned item against the enrolled persons.

Per track, the descriptors of its few best faces (graded by the faces signal: large, sharp,
near-frontal) are compared with each person's enrolled descriptors; the track's distance to a
person is the median over its faces of the nearest enrolled descriptor, so one odd frame
neither makes nor breaks a match. The threshold is calibrated on held-out data
(docs/faces.md, ``bench/calibrate_likeness.py``). Every match writes an audit record.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentry.errors import ConfigError
from consentry.match.base import Matcher
from consentry.match.likeness.index import LikenessIndex
from consentry.signals.face_types import FacesPayload
from consentry.store import audit
from consentry.store.db import Database, current_actor
from consentry.store.erasure import subject_of
from consentry.store.tables.core import Item
from consentry.store.tables.likeness import Person
from consentry.types import ItemReport

log = logging.getLogger(__name__)

# Calibrated on DFDC crops + FF++ REAL videos not used by the proof tests (docs/faces.md).
# Lower it for large registries: expected false matches grow with the number of persons.
THRESHOLD = 0.5
THRESHOLD_ENV = "CONSENTRY_LIKENESS_THRESHOLD"


def configured_threshold() -> float:
    raw = os.environ.get(THRESHOLD_ENV)
    if not raw:
        return THRESHOLD
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{THRESHOLD_ENV}={raw!r} is not a number") from None
    if not 0.0 < value < 1.2:
        raise ConfigError(f"{THRESHOLD_ENV}={value} is outside (0, 1.2); the calibrated value is {THRESHOLD}")
    return value


def registry_in_use(db: Database) -> bool:
    """Whether a scan will match faces (someone's consent is current and dlib is here): only
    then does the analysis compute face descriptors (ScanSettings.likeness_descriptors)."""
    from consentry.signals.faces.dlib_files import unavailable_reason

    with db.session() as session:
        index = LikenessIndex.from_session(session)
    return len(index) > 0 and unavailable_reason() is None


class LikenessMatcher(Matcher):
    name = "likeness"
    inputs = ("faces",)

    def __init__(self, index: LikenessIndex, threshold: float = THRESHOLD) -> None:
        self.index = index
        self.threshold = threshold
        self.actor = current_actor()
        self._scans_audited: set[int] = set()

    @classmethod
    def load(cls, db: Database) -> LikenessMatcher | None:
        from consentry.signals.faces.dlib_files import unavailable_reason

        with db.session() as session:
            index = LikenessIndex.from_session(session)
        if index.expired:
            log.warning("%d enrolled person(s) not matched: their consent reached its review date "
                        "(consentry person list; renew with consentry person renew)",
                        len(index.expired))
        if len(index) and (reason := unavailable_reason()) is not None:
            log.warning("likeness registry not used: %s (%d persons enrolled)", reason,
                        len(index.persons()))
            return None
        return cls(index, configured_threshold()) if len(index) else None

    def match(self, report: ItemReport, session: Session) -> None:
        result = report.results.get("faces")
        payload = result.payload if result else None
        if not isinstance(payload, FacesPayload) or "likeness" in report.skipped:
            return  # no faces analysed, or the policy's cascade skipped likeness on this item
        from consentry.signals.faces.embed import embed_tracks

        self._audit_scan(report, session)
        # The analysis computes the descriptors of each track's best faces when it knows that
        # someone is enrolled (ScanSettings.likeness_descriptors); any still missing are
        # computed here, all of the item's in one batched call.
        embed_tracks(payload)
        found: list[dict[str, Any]] = []
        for track in payload.tracks:
            faces = [d for d in track.detections if d.matchable and d.embedding is not None]
            if not faces:
                continue
            vectors = np.stack([d.embedding for d in faces])  # type: ignore[misc]
            for person, distance in sorted(self.index.track_distances(vectors).items()):
                if distance <= self.threshold:
                    found.append({"person": person, "name": self.index.names.get(person),
                                  "track": track.track, "distance": round(distance, 3),
                                  "frames": sorted(d.frame for d in faces)})
        found = self._still_enrolled(found, session)
        report.fields["likeness"] = found
        # Every registry match is audited; the scan's use of the registry once (above), and
        # each item's own stored result records that it was compared.
        for hit in found:
            audit.record(session, self.actor, "likeness.match", subject_of(hit["person"]),
                  item_id=report.item_id, path=str(report.path), track=hit["track"],
                  distance=hit["distance"], threshold=self.threshold, frames=hit["frames"])


    def _still_enrolled(self, found: list[dict[str, Any]], session: Session) -> list[dict[str, Any]]:
        """Drop matches of persons removed since this scan loaded its index: their name must
        not be stored after ``person remove`` forgot them. The shared row lock makes a removal
        wait until this item's transaction is committed, so it then forgets this match too."""
        if not found:
            return found
        ids = {hit["person"] for hit in found}
        rows = session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))
                               .with_for_update(read=True))
        live = {person: name for person, name in rows}
        for person in ids:
            if live.get(person) != self.index.names.get(person):  # removed (or id reused)
                log.info("person %s was removed during this scan: no longer matched", person)
                self.index.remove(person)
        return [hit for hit in found if live.get(hit["person"]) == hit["name"]]

    def _audit_scan(self, report: ItemReport, session: Session) -> None:
        item = session.get(Item, report.item_id) if report.item_id is not None else None
        scan_id = item.scan_id if item is not None else -1
        if scan_id in self._scans_audited:
            return
        self._scans_audited.add(scan_id)
        audit.record(session, self.actor, "likeness.scan", f"scan:{scan_id}",
              persons=len(self.index.persons()), threshold=self.threshold)
