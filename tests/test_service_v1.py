"""The native API: banks and entries, lookups by hash without media, partner feeds (role and
grant), items and verdicts, the audit log for admins, keys through the API."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

from consentry.service import ServiceSettings, create_app  # noqa: E402
from consentry.store import keys  # noqa: E402
from consentry.store.db import open_database  # noqa: E402

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
NEAR = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b2d"
MD5 = "d35c785545392755e7e4164457657269"


@pytest.fixture
def api(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    db = open_database(db_url)
    app = create_app(db, ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0))
    tokens = {role: keys.create(db, role, role, "tester")[0]
              for role in ("admin", "operator", "submitter", "partner")}
    with TestClient(app) as client:
        yield client, {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}, tokens
    db.close()


def test_banks_entries_lookup_withdraw(api, run_cli) -> None:  # type: ignore[no-untyped-def]
    client, h, _tokens = api
    op = h["operator"]
    created = client.post("/v1/banks", json={"name": "ncii main", "kind": "ncii"}, headers=op)
    assert created.status_code == 201 and created.json()["bank"] == "ncii main"
    r = client.post("/v1/banks/ncii main/entries", headers=op, json={
        "entries": [{"signal": "pdq", "value": PDQ, "case_id": "case-1"},
                    {"signal": "video_md5", "value": MD5}]})
    assert r.json() == {"bank": "ncii main", "added": 2, "duplicates": 0}
    bad = client.post("/v1/banks/ncii main/entries", headers=op,
                      json={"entries": [{"signal": "pdq", "value": "x"}]})
    assert bad.status_code == 400 and "entry 0" in bad.json()["message"]
    found = client.get("/v1/lookup", params={"pdq": NEAR}, headers=h["submitter"]).json()
    assert [(m["bank"], m["distance"]) for m in found["matches"]] == [("ncii main", 4)]
    by_md5 = client.get("/v1/lookup", params={"md5": MD5}, headers=h["partner"]).json()
    assert by_md5["matches"][0]["distance"] == 0 and "value" not in by_md5["matches"][0]
    posted = client.post("/v1/lookup", json={"signal": "pdq", "value": PDQ}, headers=h["submitter"])
    assert posted.status_code == 200
    # the same JSON as the CLI's bank list
    listed = client.get("/v1/banks", headers=op).json()
    cli = run_cli("--json", "bank", "list", db=client.app.state.db.url).lines
    assert [b["entries"] for b in listed] == [b["entries"] for b in cli]
    w = client.post("/v1/banks/ncii main/withdraw", json={"case_id": "case-1", "reason": "victim asked"},
                    headers=op)
    assert len(w.json()["withdrawn"]) == 1
    assert client.get("/v1/lookup", params={"pdq": PDQ}, headers=h["submitter"]).json()["matches"] == []
    disabled = client.patch("/v1/banks/ncii main", json={"enabled": False}, headers=op).json()
    assert disabled["enabled"] is False
    assert client.get("/v1/lookup", params={"md5": MD5}, headers=h["submitter"]).json()["matches"] == []
    export = client.get("/v1/banks/ncii main/export", headers=op).json()
    assert [row["signal_type"] for row in export] == ["md5"]
    imported = client.post("/v1/banks/ncii main/import", headers=op,
                           files={"file": ("list.txt", f"pdq {NEAR}\nvideo_md5 {MD5}\n".encode())}).json()
    assert (imported["format"], imported["added"], imported["duplicates"]) == ("te", 1, 1)
    broken = client.post("/v1/banks/ncii main/import", headers=op,
                         files={"file": ("list.txt", b"pdq nothex\n")}).json()
    assert broken["rolled_back"] and broken["n_errors"] == 1


def test_partner_feed_needs_role_and_grant(api) -> None:  # type: ignore[no-untyped-def]
    client, h, tokens = api
    op = h["operator"]
    client.post("/v1/banks", json={"name": "SHARED", "kind": "ncii"}, headers=op)
    client.post("/v1/banks", json={"name": "PRIVATE", "kind": "ncii"}, headers=op)
    client.post("/v1/banks/SHARED/entries", headers=op,
                json={"entries": [{"signal": "pdq", "value": PDQ, "note": "internal"}]})
    assert client.get("/v1/feeds/SHARED", headers=h["partner"]).status_code == 403  # no grant yet
    assert client.get("/v1/feeds/SHARED", headers=h["operator"]).status_code == 403  # not a partner
    partner_id = tokens["partner"].split("_")[1]
    granted = client.post(f"/v1/keys/{partner_id}/grants", json={"bank": "SHARED"}, headers=h["admin"])
    assert granted.status_code == 201
    first = client.get("/v1/feeds/SHARED", headers=h["partner"]).json()
    assert [a["signal_value"] for a in first["adds"]] == [PDQ] and first["adds"][0]["note"] is None
    assert first["withdrawals"] == [] and first["more"] is False
    again = client.get("/v1/feeds/SHARED", params={"since": first["checkpoint"]}, headers=h["partner"]).json()
    assert again["adds"] == [] and again["checkpoint"] == first["checkpoint"]
    client.post("/v1/banks/SHARED/withdraw", json={"hash": PDQ, "reason": "withdrawn"}, headers=op)
    later = client.get("/v1/feeds/SHARED", params={"since": first["checkpoint"]}, headers=h["partner"]).json()
    assert [w["signal_value"] for w in later["withdrawals"]] == [PDQ]
    te = client.get("/v1/feeds/SHARED", params={"format": "te"}, headers=h["partner"]).json()
    assert te["adds"] == [f"pdq {PDQ}"]
    assert client.get("/v1/feeds/PRIVATE", headers=h["partner"]).status_code == 403
    assert client.get("/v1/feeds/SHARED", params={"since": "junk"}, headers=h["partner"]).status_code == 400


def test_audit_and_keys_through_the_api(api) -> None:  # type: ignore[no-untyped-def]
    client, h, _tokens = api
    made = client.post("/v1/keys", json={"name": "ci", "role": "submitter"}, headers=h["admin"])
    assert made.status_code == 201 and made.json()["key"].startswith("csk_")
    new_key = {"Authorization": f"Bearer {made.json()['key']}"}
    assert client.get("/c/signal_type", headers=new_key).status_code == 200
    assert client.post("/v1/keys", json={"name": "x", "role": "root"}, headers=h["admin"]).status_code == 400
    rows = client.get("/v1/audit", params={"action": "key.create"}, headers=h["admin"]).json()
    assert rows[-1]["details"]["name"] == "ci" and rows[-1]["actor"].startswith("key:")
    assert client.get("/v1/audit/verify", headers=h["admin"]).json()["ok"] is True
    assert client.get("/v1/audit", headers=h["operator"]).status_code == 403
    assert client.get("/v1/items/12345", headers=h["operator"]).status_code == 404
    assert client.get("/v1/verdicts", params={"action": "review"}, headers=h["operator"]).json() == []
    assert client.get("/v1/persons", headers=h["operator"]).json() == []
    assert client.get("/v1/persons", headers=h["admin"]).status_code == 403  # operators only


def test_key_commands(run_cli, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    made = run_cli("--json", "key", "create", "--name", "ci", "--role", "submitter", "--expires-days", "30")
    assert made.code == 0, made.stderr
    key = made.lines[0]["key"]
    assert key.startswith("csk_") and made.lines[0]["role"] == "submitter"
    plain = run_cli("key", "create", "--name", "ops", "--role", "admin")
    assert plain.stdout.strip().startswith("csk_") and "only time" in plain.stderr
    listed = run_cli("--json", "key", "list").lines
    assert [k["name"] for k in listed] == ["ci", "ops"] and all("key" not in k for k in listed)
    key_id = made.lines[0]["key_id"]
    assert run_cli("key", "revoke", key_id).code == 0
    assert [k["active"] for k in run_cli("--json", "key", "list").lines] == [False, True]
    assert run_cli("key", "create", "--name", "x", "--role", "root").code == 2
    db = open_database(sqlite_url)
    assert keys.authenticate(db, key) is None  # revoked
    assert keys.authenticate(db, plain.stdout.strip()) is not None
    db.close()
