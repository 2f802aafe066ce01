"""POST /v1/persons: enrolment over HTTP with real faces (../shared deepfake-dev crops), by the
CLI's own analysis; photos never kept (no file left in memory or in the spool), every
enrolment and duplicate audited, refusals store nothing, operators only."""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import select  # noqa: E402

from consentry.match.likeness import service as persons  # noqa: E402
from consentry.service import ServiceSettings, create_app  # noqa: E402
from consentry.signals.faces import dlib_files  # noqa: E402
from consentry.store import keys  # noqa: E402
from consentry.store.db import open_database  # noqa: E402
from consentry.store.tables.core import AuditEntry  # noqa: E402
from consentry.testing.faces import group_photo, save_png  # noqa: E402
from tests.conftest import DEEPFAKE_DEV, THREATEXCHANGE, need  # noqa: E402

pytestmark = pytest.mark.skipif(dlib_files.unavailable_reason() is not None,
                                reason=str(dlib_files.unavailable_reason()))
REVIEW = (date.today() + timedelta(days=365)).isoformat()
FIELDS = {"name": "Alex", "consent_method": "signed-document", "review_date": REVIEW,
          "consent": "the person, signed consent form 2026-114, witnessed by J. Doe"}


def _crops(n: int) -> list[Path]:
    rows = need(DEEPFAKE_DEV / "labels.tsv").read_text().splitlines()[1:]
    names = sorted(r.split("\t")[0] for r in rows if "\tREAL\t" in r and "faces_224/" in r)
    return [DEEPFAKE_DEV / name for name in names[:n]]


def _left_in_memory() -> list[Path]:
    return sorted(Path("/dev/shm").glob("consentry-enrol-*")) if Path("/dev/shm").is_dir() else []


def test_enrol_over_http_audited_photos_not_kept(sqlite_url: str, tmp_path: Path) -> None:
    face = save_png(group_photo(_crops(1), size=(400, 300)), tmp_path / "face.png")
    other = save_png(group_photo(_crops(3)[2:], size=(400, 300)), tmp_path / "other.png")
    no_face = need(THREATEXCHANGE / "pdq/data/bridge-mods/aaa-orig.jpg")
    db = open_database(sqlite_url)
    app = create_app(db, ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0))
    operator, op_info = keys.create(db, "ops", "operator", "tester")
    submitter, _ = keys.create(db, "sub", "submitter", "tester")
    before = _left_in_memory()
    with TestClient(app) as client:
        h = {"Authorization": f"Bearer {operator}"}

        def enrol(*photos: Path, **extra: str):  # type: ignore[no-untyped-def]
            files = [("photos", (p.name, p.read_bytes(), "image/png")) for p in photos]
            if "doc" in extra:
                files.append(("consent_file", ("consent.pdf", extra.pop("doc").encode(), "application/pdf")))
            return client.post("/v1/persons", data={**FIELDS, **extra}, files=files, headers=h)

        r = client.post("/v1/persons", data=FIELDS, headers={"Authorization": f"Bearer {submitter}"},
                        files=[("photos", ("f.png", face.read_bytes(), "image/png"))])
        assert r.status_code == 403
        # A photo without a face: refused, named by its place in the request, nothing stored.
        r = enrol(face, no_face)
        assert r.status_code == 400 and r.json()["error"] == "enrolment_refused"
        assert r.json()["message"].startswith("photo-2") and "no face" in r.json()["message"]
        assert "/dev/shm" not in r.json()["message"] and persons.list_persons(db) == []
        r = enrol(face, face, doc="signed form")
        assert r.status_code == 201, r.text
        person = r.json()
        assert (person["status"], person["name"], person["faces"]) == ("enrolled", "Alex", 2)
        shown = client.get(f"/v1/persons/{person['person']}", headers=h).json()
        assert shown["consents"][0]["document"] == "consent.pdf"
        assert shown["consents"][0]["method"] == "signed-document"
        # The same face again is a duplicate: 409, naming nobody; force=true enrols it (audited).
        r = enrol(face, name="Someone else")
        assert r.status_code == 409 and r.json()["error"] == "duplicate_face"
        assert "Alex" not in r.json()["message"] and "force=true" in r.json()["message"]
        assert [p.name for p in persons.list_persons(db)] == ["Alex"]
        r = enrol(face, name="Twin", force="true")
        assert r.status_code == 201 and r.json()["duplicates_forced"] == 1
        assert enrol(other, name="Sam").status_code == 201  # another face: no duplicate
        # Bad consent records are refused before any photo is analysed.
        r = enrol(face, name="Late", review_date=date.today().isoformat())
        assert r.status_code == 400 and "not in the future" in r.json()["message"]
        assert enrol(face, name="X", consent_method="email").status_code == 400
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action.like("likeness.enrol%"))
                               .order_by(AuditEntry.id)).all()
    actor = f"key:{op_info.key_id}:ops"
    assert [(a.action, a.actor) for a in rows] == [
        ("likeness.enrol", actor), ("likeness.enrol_duplicate", actor),
        ("likeness.enrol_duplicate", actor), ("likeness.enrol", actor), ("likeness.enrol", actor)]
    # Photos are not kept: nothing in memory, nothing spooled.
    assert _left_in_memory() == before
    spooled = [p for p in (tmp_path / "spool").rglob("*") if p.is_file()]
    assert spooled == []
    db.close()
