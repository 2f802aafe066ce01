"""The HTTP service: health, OpenAPI, keys (401/403/429), every route × every role, and the
HMA-compatible routes held to HMA's recorded answers (../shared/reference/hma-local)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.routing import APIRoute  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from consentry.service import ServiceSettings, create_app  # noqa: E402
from consentry.service.auth import Allow, Public  # noqa: E402
from consentry.store import keys  # noqa: E402
from consentry.store.db import open_database  # noqa: E402
from consentry.store.keys import ROLES  # noqa: E402
from tests.conftest import SHARED, THREATEXCHANGE, need  # noqa: E402

RECORDED = SHARED / "reference" / "hma-local" / "responses"
PHOTO = THREATEXCHANGE / "pdq" / "data" / "bridge-mods" / "aaa-orig.jpg"
PHOTO_PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
# 4 bits from PHOTO_PDQ, as HMA's recording used (lookup_get_near4)
NEAR4 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b2d"
ZERO = "0" * 64
# FastAPI's own documents: generated, public
DOC_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# Public on purpose, with their own limits (docs/cases.md): a victim has no account. Without
# a submission or a PIN in the body they answer 400, never 401/403.
PUBLIC_CASE_ROUTES = {("POST", "/v1/cases"), ("GET", "/v1/cases/{case}"),
                      ("POST", "/v1/cases/{case}/status"), ("POST", "/v1/cases/{case}/withdraw")}


def recorded(name: str) -> tuple[int, object]:
    need(RECORDED)
    status_file = RECORDED / f"{name}.status"
    status = int(status_file.read_text().strip()) if status_file.exists() else 200
    return status, json.loads((RECORDED / f"{name}.json").read_text())


@pytest.fixture
def service(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    db = open_database(db_url)
    app = create_app(db, ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0, job_poll_s=0.02))
    tokens = {role: keys.create(db, f"test-{role}", role, "tester")[0] for role in ROLES}
    with TestClient(app) as client:
        yield client, tokens, db
    db.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_and_documents(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _db = service
    assert client.get("/status").text == "I-AM-ALIVE"
    assert client.get("/livez").json()["status"] == "ok"
    assert client.get("/readyz").json() == {"ready": True}
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/h/hash", "/m/raw_lookup", "/m/lookup", "/c/banks", "/c/bank/{bank_name}/content",
                 "/v1/scan", "/v1/jobs/{job_id}", "/v1/lookup", "/v1/feeds/{bank}", "/v1/audit"):
        assert path in paths, path
    assert "swagger-ui" in client.get("/docs").text.lower()
    metrics = client.get("/metrics", headers=auth(tokens["admin"]))
    assert metrics.status_code == 200
    assert "consentry_http_requests_total" in metrics.text and "consentry_jobs" in metrics.text


def test_keys_401_403_and_revocation(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _db = service
    r = client.get("/c/banks")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert client.get("/c/banks", headers=auth("csk_nope_nope")).status_code == 401
    r = client.get("/c/banks", headers=auth(tokens["submitter"]))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert client.get("/c/banks", headers=auth(tokens["operator"])).status_code == 200
    key_id = tokens["operator"].split("_")[1]
    assert client.delete(f"/v1/keys/{key_id}", headers=auth(tokens["admin"])).status_code == 200
    assert client.get("/c/banks", headers=auth(tokens["operator"])).status_code == 401
    listed = {k["key_id"]: k for k in client.get("/v1/keys", headers=auth(tokens["admin"])).json()}
    assert listed[key_id]["active"] is False and "secret_hash" not in listed[key_id]


def test_key_expiry_and_rate_limit(db_url: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    db = open_database(db_url)
    app = create_app(db, ServiceSettings(spool_dir=tmp_path / "spool"))
    slow, _ = keys.create(db, "slow", "submitter", "tester", rate_per_minute=2)
    soon, info = keys.create(db, "soon", "submitter", "tester",
                             expires_at=datetime.now(UTC) + timedelta(seconds=60))
    with TestClient(app) as client:
        h = auth(slow)
        assert client.get("/c/signal_type", headers=h).status_code == 200
        assert client.get("/c/signal_type", headers=h).status_code == 200
        r = client.get("/c/signal_type", headers=h)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"] == "rate_limited"
        assert client.get("/c/signal_type", headers=auth(soon)).status_code == 200
    from sqlalchemy import update

    from consentry.store.tables.service import ApiKey

    with db.session() as session:  # the expiry passes
        session.execute(update(ApiKey).where(ApiKey.key_id == info.key_id)
                        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    app2 = create_app(db, ServiceSettings(spool_dir=tmp_path / "spool"))
    with TestClient(app2) as client:
        assert client.get("/c/signal_type", headers=auth(soon)).status_code == 401
    db.close()


def _rule(route: APIRoute) -> frozenset[str] | str | None:
    for dep in route.dependant.dependencies:
        call = dep.call
        if isinstance(call, Allow):
            return call.roles
        if isinstance(call, Public):
            return None
    return "missing"


def _api_routes(routes, prefix: str = "") -> tuple[list[tuple[str, APIRoute]], list[str]]:  # type: ignore[no-untyped-def]
    """Every API route with its full path (FastAPI keeps included routers as such), and the
    paths of the other routes."""
    found: list[tuple[str, APIRoute]] = []
    others: list[str] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):
            inner, rest = _api_routes(route.original_router.routes,
                                      prefix + route.include_context.prefix)
            found += inner
            others += rest
        else:
            others.append(prefix + route.path)
    return found, others


def _fill(path: str) -> str:
    return (path.replace("{bank_name}", "NO_SUCH_BANK").replace("{bank}", "NO_SUCH_BANK")
            .replace("{content_id}", "999").replace("{job_id}", "nope").replace("{key_id}", "nope")
            .replace("{person_id}", "999").replace("{item_id}", "999").replace("{webhook_id}", "999")
            .replace("{case}", "999"))


def test_every_route_has_a_role_rule_and_enforces_it(service) -> None:  # type: ignore[no-untyped-def]
    """Generated from the app's own routes: a route without a rule fails here."""
    client, tokens, _db = service
    routes, others = _api_routes(client.app.routes)
    assert set(others) <= DOC_ROUTES, set(others) - DOC_ROUTES
    assert len(routes) > 40
    for path, route in routes:
        rule = _rule(route)
        assert rule != "missing", f"{path} has no role rule"
        for method in route.methods - {"HEAD"}:
            url = _fill(path)
            if (method, path) in PUBLIC_CASE_ROUTES:
                assert rule is None, f"{path} is a victim's route: public"
                assert client.request(method, url).status_code == 400, (method, url)
                continue
            assert not path.startswith("/v1/cases"), f"{method} {path}: declare it in PUBLIC_CASE_ROUTES"
            if rule is None:
                assert client.request(method, url).status_code < 400, url
                continue
            assert client.request(method, url).status_code == 401, (method, url)
            for role in ROLES:
                status = client.request(method, url, headers=auth(tokens[role])).status_code
                if role in rule:
                    assert status not in (401, 403) or (url.startswith("/v1/feeds") and status == 403), \
                        (method, url, role, status)
                else:
                    assert status == 403, (method, url, role, status)


# -- HMA compatibility -----------------------------------------------------------------------


def test_hma_routes_answer_as_hma_recorded(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _db = service
    need(PHOTO)
    h = auth(tokens["operator"])

    def same(name: str, response) -> None:  # type: ignore[no-untyped-def]
        status, body = recorded(name)
        assert (response.status_code, response.json()) == (status, body), name

    same("bank_create", client.post("/c/banks", json={"name": "TEST_BANK"}, headers=h))
    same("bank_get", client.get("/c/bank/TEST_BANK", headers=h))
    same("banks_list", client.get("/c/banks", headers=h))
    with open(PHOTO, "rb") as f:
        same("hash_photo", client.post("/h/hash", files={"photo": ("x.bin", f, "text/plain")}, headers=h))
    with open(PHOTO, "rb") as f:
        same("bank_add_content", client.post("/c/bank/TEST_BANK/content", files={"photo": f}, headers=h))
    same("bank_add_signal", client.post("/c/bank/TEST_BANK/signal", json={"pdq": ZERO}, headers=h))
    same("bank_content_get", client.get("/c/bank/TEST_BANK/content/1", headers=h))
    q = {"signal_type": "pdq"}
    same("raw_lookup_exact", client.get("/m/raw_lookup", params={**q, "signal": PHOTO_PDQ}, headers=h))
    same("raw_lookup_exact_distance", client.get(
        "/m/raw_lookup", params={**q, "signal": PHOTO_PDQ, "include_distance": "true"}, headers=h))
    same("raw_lookup_near4_distance", client.get(
        "/m/raw_lookup", params={**q, "signal": NEAR4, "include_distance": "true"}, headers=h))
    same("raw_lookup_nomatch", client.get("/m/raw_lookup", params={**q, "signal": "f" * 64}, headers=h))
    same("raw_lookup_bad_signal", client.get("/m/raw_lookup", params={**q, "signal": "xyz"}, headers=h))
    same("raw_lookup_bad_type", client.get("/m/raw_lookup", params={"signal_type": "nope", "signal": "x"},
                                           headers=h))
    same("lookup_get_exact", client.get("/m/lookup", params={**q, "signal": PHOTO_PDQ}, headers=h))
    same("lookup_get_near4", client.get("/m/lookup", params={**q, "signal": NEAR4}, headers=h))
    same("lookup_get_nomatch", client.get("/m/lookup", params={**q, "signal": "f" * 64}, headers=h))
    with open(PHOTO, "rb") as f:
        same("lookup_post_photo", client.post("/m/lookup", files={"photo": f}, headers=h))
    with open(PHOTO, "rb") as f:
        same("lookup_post_photo_bypass", client.post("/m/lookup?bypass_coinflip=true&seed=1",
                                                     files={"photo": f}, headers=h))
    same("compare", client.post("/m/compare", json={"pdq": [PHOTO_PDQ, NEAR4]}, headers=h))
    # Our lists hold HMA's entries, in HMA's shape (we also offer vpdq)
    _status, types = recorded("signal_type_list")
    assert all(t in client.get("/c/signal_type", headers=h).json() for t in types)
    status = client.get("/m/index/status", headers=h).json()
    _s, hma_status = recorded("index_status")
    for name, value in hma_status.items():
        assert set(status[name]) == set(value) and status[name]["present"] is value["present"]
    assert status["pdq"]["size"] == 2
    _s, hma_index = recorded("signal_type_index")
    assert set(client.get("/c/signal_type/index", headers=h).json()["pdq"]) == set(hma_index["pdq"])


def test_hma_bank_rules_and_disable(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _db = service
    h = auth(tokens["operator"])
    assert client.post("/c/banks", json={"name": "lower_case"}, headers=h).status_code == 400
    assert client.post("/c/banks", json={"name": "A_B"}, headers=h).status_code == 201
    assert client.post("/c/banks", json={"name": "A_B"}, headers=h).status_code == 403
    entry = client.post("/c/bank/A_B/signal", json={"pdq": PHOTO_PDQ}, headers=h).json()["id"]
    q = {"signal_type": "pdq", "signal": PHOTO_PDQ}
    assert client.get("/m/lookup", params=q, headers=h).json() == {
        "A_B": [{"bank_content_id": entry, "distance": "0"}]}
    # a bank at ratio 0 is skipped unless the coin flip is bypassed
    off = client.put("/c/bank/A_B", json={"enabled_ratio": 0.0}, headers=h).json()
    assert off["matching_enabled_ratio"] == 0.0
    assert client.get("/m/lookup", params={**q, "seed": "7"}, headers=h).json() == {}
    bypass = client.get("/m/lookup", params={**q, "bypass_coinflip": "true"}, headers=h).json()
    assert list(bypass) == ["A_B"]  # as HMA: the bypass includes banks at any ratio
    assert client.put("/c/bank/A_B", json={"enabled": True}, headers=h).status_code == 200
    assert client.get("/m/lookup", params={**q, "banks": "OTHER"}, headers=h).json() == {}
    assert client.delete(f"/c/bank/A_B/content/{entry}", headers=h).json() == {"deleted": 1}
    assert client.get("/m/raw_lookup", params=q, headers=h).json() == {"matches": []}
    assert client.get(f"/c/bank/A_B/content/{entry}", headers=h).json()["disable_until_ts"] > 1
    assert client.delete("/c/bank/A_B", headers=h).json() == {"message": "Done"}
    assert client.get("/c/bank/A_B", headers=h).status_code == 404


def test_uploads_sniffed_and_bounded(db_url: str, tmp_path: Path) -> None:
    db = open_database(db_url)
    app = create_app(db, ServiceSettings(spool_dir=tmp_path / "spool", max_upload_bytes=4096))
    token, _ = keys.create(db, "s", "submitter", "tester")
    with TestClient(app) as client:
        h = auth(token)
        # an image by name and MIME type that is not one by its bytes
        r = client.post("/h/hash", files={"photo": ("a.jpg", b"not an image at all" * 10, "image/jpeg")},
                        headers=h)
        assert r.status_code == 415
        r = client.post("/h/hash", files={"photo": ("a.jpg", b"\xff\xd8\xff" + b"0" * 10_000, "image/jpeg")},
                        headers=h)
        assert r.status_code == 413
        assert r.json()["message"].startswith("the upload is larger")
        assert client.get("/h/hash", params={"url": "http://127.0.0.1/x.jpg"}, headers=h).status_code == 400
        assert not [p for p in (tmp_path / "spool").rglob("*") if p.is_file()]  # nothing kept
    db.close()
