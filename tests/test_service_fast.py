"""The raw lookup's hot path (consentry/service/fast_lookup.py) answers byte for byte as the
FastAPI route does, and hands every case it does not serve (unknown key, wrong role, bad
parameters, banks=) to that route; a key revoked by another process is dropped by the key
refresher without argon2 and without a request waiting for it."""

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
NEAR4 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b2d"


def fast_count(client: TestClient, admin: str) -> float:
    text = client.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).text
    line = next(x for x in text.splitlines() if x.startswith("consentry_raw_lookups_fast_total"))
    return float(line.split()[1])


def test_hot_path_answers_as_the_route(db_url: str, tmp_path: Path) -> None:
    db = open_database(db_url)
    app = create_app(db, ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0))
    admin, _ = keys.create(db, "admin", "admin", "tester")
    partner, _ = keys.create(db, "partner", "partner", "tester")
    reviewer, _ = keys.create(db, "reviewer", "reviewer", "tester")
    with TestClient(app) as client:
        h = {"Authorization": f"Bearer {admin}"}
        assert client.post("/c/banks", json={"name": "FAST_BANK"}, headers=h).status_code == 201
        assert client.post("/c/bank/FAST_BANK/signal", json={"pdq": PDQ}, headers=h).status_code == 200
        app.state.lookup.load()
        queries = [{"signal_type": "pdq", "signal": s, **extra} for s in (PDQ, NEAR4, "f" * 64)
                   for extra in ({}, {"include_distance": "true"}, {"include_distance": "0"})]
        hp = {"Authorization": f"Bearer {partner}"}
        # The partner's first request verifies its key on the full route; later ones are hot.
        full = client.get("/m/raw_lookup", params=queries[0], headers=hp)
        before = fast_count(client, admin)
        hot = client.get("/m/raw_lookup", params=queries[0], headers=hp)
        assert fast_count(client, admin) == before + 1
        assert (hot.status_code, hot.content, hot.headers["content-type"]) == \
            (full.status_code, full.content, full.headers["content-type"])
        entry = hot.json()["matches"][0]
        assert hot.json() == {"matches": [entry]}
        # Every answer the same bytes as the route's (banks=FAST_BANK takes the route).
        for params in queries:
            hot = client.get("/m/raw_lookup", params=params, headers=hp)
            routed = client.get("/m/raw_lookup", params={**params, "banks": "FAST_BANK"}, headers=hp)
            assert (hot.status_code, hot.content) == (routed.status_code, routed.content), params
        assert client.get("/m/raw_lookup", params=queries[4], headers=hp).json() == \
            {"matches": [{"bank_content_id": entry, "distance": "4"}]}
        served = fast_count(client, admin)
        # Not served hot, answered by the route as ever: bad input, no key, a wrong role.
        assert client.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": "xyz"},
                          headers=hp).json() == {"message": "invalid signal: invalid PDQ hash"}
        assert client.get("/m/raw_lookup", params={"signal": PDQ}, headers=hp).status_code == 400
        assert client.get("/m/raw_lookup", params=queries[0]).status_code == 401
        hr = {"Authorization": f"Bearer {reviewer}"}
        assert client.get("/m/raw_lookup", params=queries[0], headers=hr).status_code == 403
        assert client.get("/m/raw_lookup", params=queries[0], headers=hr).status_code == 403
        assert fast_count(client, admin) == served


def test_key_revoked_elsewhere_is_dropped_by_the_refresher(db_url: str, tmp_path: Path) -> None:
    db = open_database(db_url)
    # A long cache: only the refresher (called here, as its thread does) can drop the key.
    app = create_app(db, ServiceSettings(spool_dir=tmp_path / "spool", key_cache_s=3600))
    token, info = keys.create(db, "s", "submitter", "tester")
    with TestClient(app) as client:
        h = {"Authorization": f"Bearer {token}"}
        params = {"signal_type": "pdq", "signal": PDQ}
        assert client.get("/m/raw_lookup", params=params, headers=h).status_code == 200
        keys.revoke(db, info.key_id, "another process")  # not through this app
        assert client.get("/m/raw_lookup", params=params, headers=h).status_code == 200  # cached
        app.state.keys.refresh()
        r = client.get("/m/raw_lookup", params=params, headers=h)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    db.close()


def _scans_fast(client: TestClient, admin: str) -> float:
    text = client.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).text
    return float(next(x for x in text.splitlines() if x.startswith("consentry_scans_fast_total")).split()[1])


def test_scan_hot_path_runs_the_route_code(db_url: str, tmp_path: Path) -> None:
    import threading

    from consentry.service.jobs import JobRunner
    from tests.conftest import THREATEXCHANGE, need

    photo = need(THREATEXCHANGE / "pdq" / "data" / "bridge-mods" / "aaa-orig.jpg").read_bytes()
    db = open_database(db_url)
    settings = ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0, job_poll_s=0.02,
                               scan_workers=0)
    app = create_app(db, settings)
    runner = JobRunner(db, settings)
    thread = threading.Thread(target=runner.run_forever, daemon=True)
    thread.start()
    admin, _ = keys.create(db, "admin", "admin", "tester")
    token, _ = keys.create(db, "s", "submitter", "tester")
    slow, _ = keys.create(db, "slow", "submitter", "tester", rate_per_minute=2)
    h = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(app) as client:
            first = client.post("/v1/scan?wait=30", files={"file": photo}, data={"signals": "hash"},
                                headers=h)
            before = _scans_fast(client, admin)  # the first request verified the key: the route
            hot = client.post("/v1/scan?wait=30", files={"file": photo}, data={"signals": "hash",
                              "external_id": "x-1"}, headers=h)
            assert _scans_fast(client, admin) == before + 1
            assert (first.status_code, hot.status_code) == (200, 200)
            assert hot.json()["result"]["pdq"] == first.json()["result"]["pdq"]
            assert hot.json()["external_id"] == "x-1" and set(hot.json()) == set(first.json())
            queued = client.post("/v1/scan", files={"file": photo}, headers=h)
            assert queued.status_code == 202 and set(queued.json()) == {"job_id", "status"}
            # Errors of the hot path are the route's: bad signals, not media, too long an id.
            bad = client.post("/v1/scan", files={"file": photo}, data={"signals": "nope"}, headers=h)
            assert bad.status_code == 400 and bad.json()["error"] == "bad_signals"
            junk = client.post("/v1/scan", files={"file": ("a.jpg", b"MZ\x90 not media", "image/jpeg")},
                               headers=h)
            assert junk.status_code == 415 and junk.json()["error"] == "unsupported_media"
            served = _scans_fast(client, admin)
            # Not the usual upload: the route answers, with the body replayed to it.
            two = client.post("/v1/scan", files=[("file", photo), ("file", photo)], headers=h)
            other = client.post("/v1/scan", files={"file": photo}, data={"extra": "1"}, headers=h)
            assert two.status_code in (202, 400) and other.status_code == 202
            assert _scans_fast(client, admin) == served
            # A key over its rate is charged once and answered 429 by the route.
            hs = {"Authorization": f"Bearer {slow}"}
            codes = [client.post("/v1/scan", files={"file": photo}, headers=hs).status_code for _ in range(3)]
            assert codes == [202, 202, 429]
    finally:
        runner.stop.set()
        thread.join(10)
        db.close()
