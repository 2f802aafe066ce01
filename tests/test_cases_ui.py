"""Case workers' pages in /ui: the list and a case's page with its notes, consent, sharing
and withdrawal; roles, CSRF on every form, and a hostile note rendered inert."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("jinja2")

from markupsafe import escape

from consentry.store import audit
from tests.test_cases import hash_photo
from tests.test_review_support import PEOPLE, build, close, csrf, sign_in


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hash_photo(tmp_path_factory.mktemp("victim") / "submission.json")


@pytest.fixture
def rv(sqlite_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    r = build(sqlite_url, tmp_path)
    yield r
    close(r)


def _open(client, submission: Path) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    r = client.post("/v1/cases", content=submission.read_bytes(),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    return r.json()["case"], r.json()["pin"]


def test_a_case_worker_notes_records_consent_shares_and_withdraws(rv, submission: Path) -> None:  # type: ignore[no-untyped-def]
    api = rv.api()
    case, pin = _open(api, submission)
    worker = sign_in(rv, "rev")
    listing = worker.get("/ui/cases")
    assert listing.status_code == 200 and f'href="/ui/cases/{case}"' in listing.text
    assert pin not in listing.text and 'href="/ui/cases"' in listing.text  # nav link
    page = worker.get(f"/ui/cases/{case}")
    assert "Hashes: 2 active, 0 withdrawn." in page.text and "No consent to share recorded" in page.text
    assert 'id="share"' not in page.text  # no consent, no share button
    token = csrf(worker, f"/ui/cases/{case}")
    hostile = '<script>alert("x")</script> called back'
    done = worker.post(f"/ui/cases/{case}/note", data={"csrf": token, "text": hostile},
                       follow_redirects=False)
    assert done.status_code == 303
    page = worker.get(f"/ui/cases/{case}").text
    assert str(escape(hostile)) in page and hostile not in page
    worker.post(f"/ui/cases/{case}/consent", data={"csrf": token, "share": "yes", "how": "by phone"})
    page = worker.get(f"/ui/cases/{case}").text
    assert "Consent to share with partners: <strong>yes</strong>" in page and 'id="share"' in page
    worker.post(f"/ui/cases/{case}/share", data={"csrf": token})
    with rv.db.session() as session:
        actions = [r.action for r in audit.rows(session, subject=f"case:{case}", limit=20)]
        assert actions == ["case.open", "case.note", "case.consent", "case.share"]
        note_row = audit.rows(session, action="case.note", limit=1)[0]
        assert note_row.actor == "person:rev" and "called back" not in json.dumps(note_row.details)
    assert "Shared since" in worker.get(f"/ui/cases/{case}").text
    worker.post(f"/ui/cases/{case}/withdraw", data={"csrf": token, "reason": "asked by phone"})
    page = worker.get(f"/ui/cases/{case}").text
    assert "withdrawn" in page and "Hashes: 0 active, 2 withdrawn." in page and "Withdrawn " in page
    seen = api.request("GET", f"/v1/cases/{case}", json={"pin": pin}).json()
    assert seen["status"] == "withdrawn" and seen["shared_with_partners"] is False
    assert worker.get("/ui/cases/123").status_code == 404
    assert worker.get("/ui/cases?status=withdrawn").text.count('href="/ui/cases/') == 1


def test_case_pages_roles_and_csrf(rv, submission: Path) -> None:  # type: ignore[no-untyped-def]
    api = rv.api()
    case, _pin = _open(api, submission)
    allowed = {"reviewer", "senior_reviewer", "operator"}
    for name, role in PEOPLE.items():
        client = sign_in(rv, name)
        answer = client.get(f"/ui/cases/{case}")
        if role in allowed:
            assert answer.status_code == 200, (name, role)
        else:
            assert answer.status_code == 403 and "role may not use this page" in answer.text
            assert 'href="/ui/cases"' not in client.get("/ui/queue").text
    anonymous = rv.api()
    assert anonymous.get("/ui/cases", follow_redirects=False).status_code == 303
    worker = sign_in(rv, "op")
    html = worker.get(f"/ui/cases/{case}").text
    forms = re.findall(r'<form method="post" action="([^"]+)"', html)
    assert {f"/ui/cases/{case}/{a}" for a in ("note", "consent", "withdraw")} <= set(forms)
    for action in (*forms, f"/ui/cases/{case}/share"):
        for data in ({}, {"csrf": "forged"}):
            r = worker.post(action, data={**data, "text": "x", "share": "yes", "how": "x", "reason": "x"},
                            follow_redirects=False)
            assert r.status_code == 403 and "CSRF" in r.text, action
    with rv.db.session() as session:
        assert [r.action for r in audit.rows(session, subject=f"case:{case}", limit=20)] == ["case.open"]
