"""Issue 17: likeness descriptors computed in the analysis stage (the worker), batched per
item, only for each track's kept best faces, and only when someone is enrolled. What is
pinned: the worker embeds exactly those faces (none when nobody is enrolled), and the
matcher's result and audit are the same whether the descriptors came from the worker or are
computed by the matcher itself. Real faces from ../shared."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from consentry.cli.person import analyse_photos
from consentry.match.likeness import service
from consentry.match.likeness.consent import ConsentRequest
from consentry.match.likeness.matcher import LikenessMatcher, registry_in_use
from consentry.pipeline.analysis import Analyser
from consentry.pipeline.decision import decide_batch
from consentry.policy.engine import RulesPolicy
from consentry.settings import ScanSettings
from consentry.signals import catalog
from consentry.signals.faces import dlib_files
from consentry.store import scans as scan_store
from consentry.store.db import current_actor, open_database
from consentry.store.tables.core import AuditEntry
from consentry.testing.faces import group_photo, real_crops, save_png
from tests.conftest import DEEPFAKE_DEV, need

pytestmark = pytest.mark.skipif(dlib_files.unavailable_reason() is not None,
                                reason=str(dlib_files.unavailable_reason()))


def test_descriptors_in_the_analysis_match_those_of_the_matcher(sqlite_url: str,
                                                                tmp_path: Path) -> None:
    crops = real_crops(need(DEEPFAKE_DEV), 3)
    portrait = save_png(group_photo(crops[:1], size=(400, 300)), tmp_path / "enrol.png")
    photo = save_png(group_photo(crops), tmp_path / "three.png")  # the enrolled face + 2 others
    db = open_database(sqlite_url)
    try:
        assert not registry_in_use(db)
        consent = ConsentRequest("signed-document", "signed form, witnessed",
                                 date.today() + timedelta(days=90))
        person = service.enrol(db, name="Sam", consent=consent, photos=analyse_photos([portrait]),
                               actor=current_actor()).person
        assert registry_in_use(db)
        classes = catalog.resolve(("faces",))
        in_worker = Analyser(ScanSettings(likeness_descriptors=True), classes).analyse(photo)
        in_matcher = Analyser(ScanSettings(), classes).analyse(photo)
        worker_faces = [d for t in in_worker.results["faces"].payload.tracks for d in t.detections]
        assert len(worker_faces) == 3
        assert all(d.embedding is not None for d in worker_faces if d.matchable)
        assert sum(d.matchable for d in worker_faces) == 3
        assert all(d.embedding is None
                   for t in in_matcher.results["faces"].payload.tracks for d in t.detections)

        matcher = LikenessMatcher.load(db)
        assert matcher is not None
        policy = RulesPolicy.from_file()
        with db.session() as session:
            scan_id = scan_store.start_scan(session, {"test": True})
        decide_batch([in_worker, in_matcher], db, scan_id, [matcher], policy)
        found = [r.fields["likeness"] for r in (in_worker, in_matcher)]
        assert found[0] == found[1] and [h["person"] for h in found[0]] == [person.person_id]
        for a, b in zip(worker_faces, [d for t in in_matcher.results["faces"].payload.tracks
                                       for d in t.detections], strict=True):
            assert np.allclose(a.embedding, b.embedding, atol=1e-5)
        with db.session() as session:  # every match audited, whichever stage embedded it
            audited = session.scalars(select(AuditEntry.details).where(
                AuditEntry.action == "likeness.match")).all()
        assert sorted(a["item_id"] for a in audited) == sorted([in_worker.item_id,
                                                                in_matcher.item_id])
    finally:
        db.close()
