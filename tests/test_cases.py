"""Victim cases (docs/cases.md) on SQLite and PostgreSQL: a victim opens a case from a file
``consentry hash`` made of a real photo, sees its status, an upload of the photo (and of an
edit of it) is caught by the case bank, the victim withdraws with the PIN and the same upload
is then allowed; wrong PINs are refused and guessing locks the case and the address; the
submission is validated; two cases with the same picture stay apart; the case worker's view
and the partner feed show a case's hashes only while it is active and consented."""

from __future__ import annotations

import json
import threading
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import select, update  # noqa: E402

from consentry.service import ServiceSettings, create_app  # noqa: E402
from consentry.service.jobs import JobRunner  # noqa: E402
from consentry.store import audit, keys  # noqa: E402
from consentry.store.tables.banks import BankEntry  # noqa: E402
from consentry.store.tables.cases import VictimCase  # noqa: E402
from consentry.store.tables.core import AuditEntry, utcnow  # noqa: E402
from tests.conftest import THREATEXCHANGE, need  # noqa: E402

MODS = THREATEXCHANGE / "pdq" / "data" / "bridge-mods"
PHOTO, EDITED = MODS / "aaa-orig.jpg", MODS / "blur-a-little.jpg"
CASE_BANK, SHARE_BANK = "helpline-cases", "helpline-shared"
ROLES = ("submitter", "reviewer", "operator", "partner", "admin")


class Helpline:
    def __init__(self, db_url: str, tmp_path: Path, **limits: Any) -> None:
        from consentry.store.db import open_database

        self.db = open_database(db_url)
        self.settings = replace(ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0,
                                                job_poll_s=0.02, scan_workers=1), **limits)
        self.app = create_app(self.db, self.settings)
        self.tokens = {role: keys.create(self.db, f"t-{role}", role, "tester")[0] for role in ROLES}
        self.runner: JobRunner | None = None
        self.client = TestClient(self.app)
        self.client.__enter__()

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def start_jobs(self) -> None:
        self.runner = JobRunner(self.db, self.settings)
        threading.Thread(target=self.runner.run_forever, daemon=True).start()

    def open(self, submission: Path | dict[str, Any]) -> tuple[int, str]:
        body = submission.read_bytes() if isinstance(submission, Path) else json.dumps(submission).encode()
        r = self.client.post("/v1/cases", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 201, r.text
        return r.json()["case"], r.json()["pin"]

    def status(self, case: int, pin: str, via_get: bool = True) -> Any:
        if via_get:
            return self.client.request("GET", f"/v1/cases/{case}", json={"pin": pin})
        return self.client.post(f"/v1/cases/{case}/status", json={"pin": pin})

    def upload(self, path: Path) -> dict[str, Any]:
        with open(path, "rb") as f:
            r = self.client.post("/v1/scan?wait=60", files={"file": (path.name, f)}, data={"signals": "hash"},
                                 headers=self.h("submitter"))
        assert r.status_code == 200, r.text
        return r.json()["result"]

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        if self.runner is not None:
            self.runner.stop.set()
        self.db.close()


@pytest.fixture
def helpline(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    h = Helpline(db_url, tmp_path)
    yield h
    h.close()


def hash_photo(out: Path) -> Path:
    """What a victim's ``consentry hash`` writes for the photo (the real command; with the
    file's name, which the helpline must drop)."""
    import subprocess
    import sys

    need(PHOTO)
    subprocess.run([sys.executable, "-m", "consentry", "hash", str(PHOTO), "-o", str(out), "--keep-names"],
                   check=True, capture_output=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hash_photo(tmp_path_factory.mktemp("victim") / "submission.json")


def _case_matches(result: dict[str, Any], case: int) -> list[dict[str, Any]]:
    return [m for m in result.get("matches") or []
            if m["bank"] == CASE_BANK and m["case_id"] == f"case-{case}"]


def test_a_victim_opens_sees_and_withdraws_a_case(helpline: Helpline, submission: Path) -> None:
    need(EDITED)
    h = helpline
    h.start_jobs()
    assert h.upload(PHOTO).get("matches") in (None, [])  # nothing banked yet
    case, pin = h.open(submission)
    assert len(pin) == 10 and pin.isdigit() and 10_000_000 <= case <= 99_999_999
    seen = h.status(case, pin).json()
    assert seen["status"] == "active" and seen["hashes"] == {"active": 2, "withdrawn": 0}  # PDQ + MD5
    assert seen["matches"] == {"count": 0, "dates": []} and "pin" not in json.dumps(seen)
    with h.db.session() as session:  # the PIN is kept only as an argon2 hash; no file name kept
        row = session.scalar(select(VictimCase).where(VictimCase.number == case))
        assert row.pin_hash.startswith("$argon2") and pin not in row.pin_hash
        attrs = [e.attributes for e in session.scalars(select(BankEntry))]
        assert attrs and all("name" not in a for a in attrs)
    # the photo and an edit of it (blurred: PDQ near, MD5 different) are caught
    caught = h.upload(PHOTO)
    assert {m["signal"] for m in _case_matches(caught, case)} == {"pdq", "md5"}
    assert caught["verdict"]["action"] == "block", caught["verdict"]
    edited = h.upload(EDITED)
    assert {m["signal"] for m in _case_matches(edited, case)} == {"pdq"}
    now = h.status(case, pin, via_get=False).json()  # POST .../status answers the same
    assert now["matches"]["count"] == 2  # two uploads (the PDQ and MD5 of one are one match)
    assert sum(d["count"] for d in now["matches"]["dates"]) == 2 and now["matches"]["dates"][-1]["date"] \
        == utcnow().date().isoformat()
    lookup = h.client.get("/m/lookup", params={"signal_type": "pdq", "signal": caught["pdq"]["hash"]},
                          headers=h.h("submitter")).json()
    assert CASE_BANK in lookup
    # a wrong PIN withdraws nothing
    assert h.client.post(f"/v1/cases/{case}/withdraw", json={"pin": "0000000000"}).status_code == 403
    assert h.status(case, pin).json()["status"] == "active"
    # the victim withdraws (PIN typed with spaces): matching stops at once, audited
    gone = h.client.post(f"/v1/cases/{case}/withdraw", json={"pin": f"{pin[:5]} {pin[5:]}"})
    assert gone.status_code == 200, gone.text
    assert gone.json()["status"] == "withdrawn" and gone.json()["hashes"] == {"active": 0, "withdrawn": 2}
    assert _case_matches(h.upload(PHOTO), case) == []
    assert h.upload(PHOTO)["verdict"]["action"] == "allow"
    assert h.client.get("/m/lookup", params={"signal_type": "pdq", "signal": caught["pdq"]["hash"]},
                        headers=h.h("submitter")).json() == {}
    after = h.status(case, pin).json()
    assert after["status"] == "withdrawn" and after["withdrawn"] and after["matches"]["count"] == 2
    with h.db.session() as session:
        rows = audit.rows(session, subject=f"case:{case}", limit=50)
        assert [r.action for r in rows] == ["case.open", "case.withdraw"]
        assert rows[1].actor == "victim" and rows[1].details["entries"] == 2
        assert audit.verify(session).ok
    again = h.client.post(f"/v1/cases/{case}/withdraw", json={"pin": pin})  # twice: no second row
    assert again.status_code == 200
    with h.db.session() as session:
        assert len(audit.rows(session, action="case.withdraw", limit=50)) == 1


def test_two_cases_with_the_same_picture_stay_apart(helpline: Helpline, submission: Path) -> None:
    h = helpline
    first, pin1 = h.open(submission)
    second, pin2 = h.open(submission)
    assert first != second
    assert h.status(second, pin2).json()["hashes"]["active"] == 2  # not taken as duplicates
    assert h.status(first, pin2).status_code == 403  # one case's PIN opens no other case
    h.client.post(f"/v1/cases/{first}/withdraw", json={"pin": pin1})
    pdq = json.loads(submission.read_text())["items"][0]["pdq"]["hash"]
    found = h.client.get("/v1/lookup", params={"pdq": pdq}, headers=h.h("submitter")).json()["matches"]
    with h.db.session() as session:
        cases_of = {e.id: e.case_id for e in session.scalars(select(BankEntry))}
    assert {cases_of[m["entry_id"]] for m in found} == {f"case-{second}"}


def test_wrong_pins_lock_the_case_then_the_address(db_url: str, tmp_path: Path, submission: Path) -> None:
    h = Helpline(db_url, tmp_path, pin_failures=3, pin_failures_per_address=100)
    try:
        case, pin = h.open(submission)
        assert h.status(case, "1234567890").status_code == 403
        assert h.status(case, "1234567891").status_code == 403
        locked = h.status(case, "1234567892")
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 60
        right = h.status(case, pin)  # while locked, the right PIN is refused too
        assert right.status_code == 429 and right.json()["error"] == "rate_limited"
        assert h.client.post(f"/v1/cases/{case}/withdraw", json={"pin": pin}).status_code == 429
        with h.db.session() as session:
            assert [r.action for r in audit.rows(session, subject=f"case:{case}", limit=10)] == [
                "case.open", "case.locked"]
            # the lock's time passes
            session.execute(update(VictimCase).where(VictimCase.number == case)
                            .values(locked_until=utcnow().replace(year=2020)))
        assert h.status(case, pin).status_code == 200
        assert h.status(12345678, pin).status_code == 403  # an unknown number: the same answer
        assert h.status(case, "").status_code == 400
    finally:
        h.close()
    # one address guessing across many cases is stopped whatever the cases' own counts
    g = Helpline(db_url, tmp_path / "g", pin_failures=100, pin_failures_per_address=4)
    try:
        cases = [g.open(submission) for _ in range(3)]
        statuses = [g.status(c, "9999999999").status_code for c, _pin in cases]
        statuses += [g.status(cases[0][0], "9999999998").status_code]
        assert statuses == [403, 403, 403, 403]
        assert g.status(cases[1][0], cases[1][1]).status_code == 429  # this address is held off
    finally:
        g.close()


def test_submissions_are_validated_and_bounded(db_url: str, tmp_path: Path, submission: Path) -> None:
    h = Helpline(db_url, tmp_path, case_max_bytes=4096, case_opens_per_hour=7)
    try:
        post = h.client.post
        good = json.loads(submission.read_text())
        r = post("/v1/cases", content=b"not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"] == "bad_json"
        r = post("/v1/cases", json={"format": "something else"})
        assert r.status_code == 422 and "consentry hash" in r.json()["message"]
        r = post("/v1/cases", json={**good, "version": 9})
        assert r.status_code == 422 and "version" in r.json()["message"]
        r = post("/v1/cases", json={**good, "items": []})
        assert r.status_code == 422 and "no hashed items" in r.json()["message"]
        bad = {**good, "items": [good["items"][0], {"kind": "image", "pdq": {"hash": "zz", "quality": 90}}]}
        r = post("/v1/cases", json=bad)
        message = r.json()["message"]
        assert r.status_code == 422 and message.startswith("item 1, field") and "pdq" in message, message
        r = post("/v1/cases", json={**good, "padding": "x" * 5000})
        assert r.status_code == 413 and r.json()["error"] == "too_large"
        with h.db.session() as session:  # nothing of the refused ones was kept
            assert session.scalar(select(VictimCase.id)) is None
            assert session.scalar(select(BankEntry.id)) is None
        h.open(good)  # the 7th opening from this address in the hour
        r = post("/v1/cases", json=good)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        # the offline page posts from file://: CORS on the victim's routes, not the staff's
        pre = h.client.options("/v1/cases", headers={"Origin": "null",
                                                     "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == "*"
        staff = h.client.get("/v1/casework/cases", headers=h.h("reviewer"))
        assert "access-control-allow-origin" not in staff.headers
    finally:
        h.close()


def _feed(h: Helpline, since: str | None = None) -> dict[str, Any]:
    r = h.client.get(f"/v1/feeds/{SHARE_BANK}", params={"since": since} if since else {},
                     headers=h.h("partner"))
    assert r.status_code == 200, r.text
    return r.json()


def test_case_workers_and_the_partner_feed(helpline: Helpline, submission: Path) -> None:
    h = helpline
    case, pin = h.open(submission)
    other, other_pin = h.open(submission)
    partner_id = h.tokens["partner"].split("_")[1]
    for bank in (SHARE_BANK, CASE_BANK):
        keys.grant_feed(h.db, partner_id, bank, "tester")
    # the case bank itself is never fed, even to a partner granted it
    assert h.client.get(f"/v1/feeds/{CASE_BANK}", headers=h.h("partner")).status_code == 403
    # roles: reviewers and operators work cases; submitters, partners and admins do not
    for role, expected in (("reviewer", 200), ("operator", 200), ("submitter", 403), ("partner", 403),
                           ("admin", 403)):
        assert h.client.get("/v1/casework/cases", headers=h.h(role)).status_code == expected, role
    listed = h.client.get("/v1/casework/cases", headers=h.h("reviewer")).json()
    assert {c["case"] for c in listed} == {case, other} and pin not in json.dumps(listed)
    w = h.h("reviewer")
    url = f"/v1/casework/cases/{case}"
    noted = h.client.post(f"{url}/notes", json={"text": "called back, prefers email"}, headers=w)
    assert noted.status_code == 201
    shown = h.client.get(url, headers=w).json()
    assert [n["text"] for n in shown["notes"]] == ["called back, prefers email"]
    assert shown["notes"][0]["author"].startswith("key:")
    assert h.client.get("/v1/casework/cases/11111111", headers=w).status_code == 404
    # no consent, no sharing
    assert h.client.post(f"{url}/share", headers=w).status_code == 409
    assert h.client.post(f"{url}/consent", json={"share": True}, headers=w).status_code == 409  # say how
    consented = h.client.post(f"{url}/consent", json={"share": True, "how": "by phone, read back"}, headers=w)
    assert consented.json()["consent"]["share"] is True and consented.json()["consent"]["how"]
    first = _feed(h)
    assert first["adds"] == []  # consent alone shares nothing
    shared = h.client.post(f"{url}/share", headers=w).json()
    assert shared == {"case": case, "bank": SHARE_BANK, "shared": 2}
    assert h.client.post(f"{url}/share", headers=w).json()["shared"] == 0  # once
    fed = _feed(h, first["checkpoint"])
    assert {a["case_id"] for a in fed["adds"]} == {f"case-{case}"} and len(fed["adds"]) == 2
    assert all(a["metadata"] == {} for a in fed["adds"])
    # the share bank does not match a second time here: the case bank does
    pdq = json.loads(submission.read_text())["items"][0]["pdq"]["hash"]
    found = h.client.get("/v1/lookup", params={"pdq": pdq}, headers=h.h("submitter")).json()["matches"]
    assert {m["bank"] for m in found} == {CASE_BANK}
    assert h.client.get(url, headers=w).json()["shared_with_partners"] is True
    # the victim withdraws: the feed shows the case's hashes withdrawn
    assert h.client.post(f"/v1/cases/{case}/withdraw", json={"pin": pin}).status_code == 200
    later = _feed(h, fed["checkpoint"])
    assert later["adds"] == [] and len(later["withdrawals"]) == 2
    assert {x["case_id"] for x in later["withdrawals"]} == {f"case-{case}"}
    assert h.client.post(f"{url}/share", headers=w).status_code == 409  # withdrawn: never again
    # another case: consent, share, then the victim takes consent back
    o = f"/v1/casework/cases/{other}"
    h.client.post(f"{o}/consent", json={"share": True, "how": "signed form"}, headers=h.h("operator"))
    h.client.post(f"{o}/share", headers=h.h("operator"))
    shared_other = _feed(h, later["checkpoint"])
    assert len(shared_other["adds"]) == 2
    h.client.post(f"{o}/consent", json={"share": False, "how": "asked us to stop sharing"},
                  headers=h.h("operator"))
    stopped = _feed(h, shared_other["checkpoint"])
    assert {x["case_id"] for x in stopped["withdrawals"]} == {f"case-{other}"}
    assert h.status(other, other_pin).json()["status"] == "active"  # still blocked here
    with h.db.session() as session:
        actions = [a for (a,) in session.execute(select(AuditEntry.action).where(
            AuditEntry.subject.in_([f"case:{case}", f"case:{other}"])).order_by(AuditEntry.id))]
        assert actions.count("case.consent") == 3 and actions.count("case.share") == 3
        assert "case.note" in actions and audit.verify(session).ok


def test_a_video_case_blocks_the_video(sqlite_url: str, tmp_path: Path) -> None:
    """vPDQ: a case from a video's submission catches an upload of the video."""
    import subprocess
    import sys

    video = need(THREATEXCHANGE / "tmk" / "sample-videos" / "chair-22-sd-sepia-bar.mp4")
    out = tmp_path / "video.json"
    subprocess.run([sys.executable, "-m", "consentry", "hash", str(video), "-o", str(out)], check=True,
                   capture_output=True, timeout=300)
    h = Helpline(sqlite_url, tmp_path)
    try:
        h.start_jobs()
        case, pin = h.open(out)
        assert h.status(case, pin).json()["hashes"]["active"] == 2  # vPDQ + MD5
        assert {m["signal"] for m in _case_matches(h.upload(video), case)} == {"vpdq", "md5"}
        h.client.post(f"/v1/cases/{case}/withdraw", json={"pin": pin})
        assert _case_matches(h.upload(video), case) == []
        assert h.status(case, pin).json()["matches"]["count"] == 1
    finally:
        h.close()
