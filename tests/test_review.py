"""Review: decisions through the API and the browser's forms (one set of rules), appeals that
withdraw hashes at once, claims, sign-in (rate limit, expiry, cookies), every /ui route ×
every role, CSRF on every form, hostile names rendered inert, media kept encrypted and gone
after its retention, the wellness defaults."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import func, select, update

from consentry.actions import webhooks
from consentry.store import audit
from consentry.store import review as review_store
from consentry.store.tables.core import AuditEntry, utcnow
from consentry.store.tables.review import ReviewClaim, ReviewSession
from consentry.store.tables.service import WebhookDelivery
from tests.test_review_support import (
    ALLOW,
    CSRF,
    PASSWORD,
    PEOPLE,
    TARGET,
    build,
    close,
    csrf,
    post,
    scan_into_review,
    sign_in,
)


@pytest.fixture
def rv(sqlite_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    r = build(sqlite_url, tmp_path, break_after=3)
    yield r
    close(r)


def _audit_rows(r, action: str) -> list:  # type: ignore[no-untyped-def]
    with r.db.session() as session:
        return audit.rows(session, action=action, limit=1000)


def test_confirm_blocks_the_next_upload_and_an_appeal_reverses_it(db_url: str, tmp_path: Path) -> None:
    r = build(db_url, tmp_path)
    try:
        api = r.api()
        webhooks.add_webhook(r.db, "http://127.0.0.1:9/hook", "s" * 20, ["decision"], "tester")
        item = r.queued(api, 1)
        path = r.image(1)
        # a reviewer key confirms through the API, with the same rules as the browser
        h = r.auth("reviewer")
        assert api.post(f"/v1/items/{item}/decision", json={"decision": "confirm", "label": "ncii"},
                        headers=h).status_code == 400  # no bank
        assert api.post(f"/v1/items/{item}/decision", json={"decision": "confirm", "bank": ALLOW,
                                                            "label": "x"}, headers=h).status_code == 400
        done = api.post(f"/v1/items/{item}/decision",
                        json={"decision": "confirm", "bank": TARGET, "label": "ncii", "note": "seen"},
                        headers=h)
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "confirmed" and done.json()["entries"] >= 2  # pdq, md5, sha256
        again = api.post(f"/v1/items/{item}/decision", json={"decision": "reject"}, headers=h)
        assert again.status_code == 409
        blocked = r.upload(api, path)
        assert blocked["verdict"]["action"] == "block"
        assert {m["bank"] for m in blocked["matches"]} >= {TARGET}
        # the decision webhook fired (queued, signed at delivery)
        with r.db.session() as session:
            events = session.scalars(select(WebhookDelivery.body)
                                     .where(WebhookDelivery.event == "decision")).all()
        assert any('"decision": "confirm"' in b and f'"item_id": {item}' in b for b in events)
        # an appeal: only by the uploader (another submitter sees nothing), reopens for a senior
        body = {"reason": "this is my own photo"}
        url = f"/v1/items/{item}/appeal"
        assert api.post(url, json=body, headers=r.auth("submitter2")).status_code == 404
        assert api.post(url, json=body, headers=r.auth("submitter")).status_code == 200
        state = api.get(f"/v1/items/{item}/review", headers=h).json()
        assert state["state"] == "appealed"
        assert state["possible"] == {"reviewer": [], "senior_reviewer": ["uphold", "reverse"]}
        # a reviewer key cannot decide an appeal (no key is a senior reviewer)
        refused = api.post(f"/v1/items/{item}/decision", json={"decision": "reject"}, headers=h)
        assert refused.status_code == 409
        senior = sign_in(r, "senior")
        assert f"/ui/items/{item}" in senior.get("/ui/queue").text
        out = post(senior, f"/ui/items/{item}/decision", decision="reverse", note="own photo, consented")
        assert out.status_code == 303, out.text
        after = r.upload(api, path)
        assert TARGET not in {m["bank"] for m in after.get("matches", [])}
        assert after["verdict"]["action"] == "review"  # the deepfake bank still sends it to review
        history = api.get(f"/v1/items/{item}/review", headers=h).json()
        assert [d["decision"] for d in history["decisions"]] == ["confirm", "appeal", "reverse"]
        assert history["decisions"][2]["actor"] == "person:senior" and history["decisions"][2]["entries"] >= 2
        with r.db.session() as session:
            assert audit.verify(session).ok
    finally:
        close(r)


def test_escalation_and_an_appeal_need_a_different_senior(rv) -> None:  # type: ignore[no-untyped-def]
    api = rv.api()
    item = rv.queued(api, 2)
    rev, senior = sign_in(rv, "rev"), sign_in(rv, "senior")
    assert post(rev, f"/ui/items/{item}/decision", decision="escalate", note="unsure").status_code == 303
    assert f"/ui/items/{item}" not in rev.get("/ui/queue").text  # only seniors see escalations
    assert post(rev, f"/ui/items/{item}/decision", decision="confirm", bank=TARGET,
                label="x").status_code == 403
    assert post(senior, f"/ui/items/{item}/decision", decision="confirm", bank=TARGET,
                label="ncii").status_code == 303
    assert api.post(f"/v1/items/{item}/appeal", json={"reason": "mine"},
                    headers=rv.auth("submitter")).status_code == 200
    refused = post(senior, f"/ui/items/{item}/decision", decision="reverse")
    assert refused.status_code == 403 and "took no part" in refused.text
    assert post(sign_in(rv, "senior2"), f"/ui/items/{item}/decision", decision="uphold").status_code == 303
    assert api.post(f"/v1/items/{item}/appeal", json={"reason": "again"},
                    headers=rv.auth("submitter")).status_code == 409


def test_reject_into_an_allow_bank_stops_it_coming_back(rv) -> None:  # type: ignore[no-untyped-def]
    api = rv.api()
    item = rv.queued(api, 3)
    rev = sign_in(rv, "rev")
    assert post(rev, f"/ui/items/{item}/decision", decision="reject", bank=ALLOW,
                note="a test card").status_code == 303
    assert rv.upload(api, rv.image(3))["verdict"]["action"] == "allow"


def test_claims_are_seen_by_others_and_expire(rv) -> None:  # type: ignore[no-untyped-def]
    api = rv.api()
    item = rv.queued(api, 4)
    rev, rev2 = sign_in(rv, "rev"), sign_in(rv, "rev2")
    assert post(rev, f"/ui/items/{item}/claim").status_code == 303
    assert "rev until" in rev2.get("/ui/queue").text
    assert post(rev2, f"/ui/items/{item}/claim").status_code == 409
    assert post(rev2, f"/ui/items/{item}/decision", decision="reject").status_code == 409
    assert api.post(f"/v1/items/{item}/decision", json={"decision": "reject"},
                    headers=rv.auth("reviewer")).status_code == 409
    with rv.db.session() as session:
        session.execute(update(ReviewClaim).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert "rev until" not in rev2.get("/ui/queue").text
    assert post(rev2, f"/ui/items/{item}/claim").status_code == 303


def test_queue_order_and_filters(rv) -> None:  # type: ignore[no-untyped-def]
    from consentry.match.banks import service as banks

    api = rv.api()
    first = rv.queued(api, 5)
    banks.create(rv.db, "others", "other", "tester")
    path = rv.image(6)
    rv.bank_image(api, path, "others")
    normal = int(rv.upload(api, path)["item_id"])  # "other" bank: normal priority
    later_high = rv.queued(api, 7)
    page = sign_in(rv, "rev").get("/ui/queue").text
    order = [int(n) for n in re.findall(r'href="/ui/items/(\d+)"', page)]
    assert order == [first, later_high, normal]  # priority, then age
    rev = rv.clients[-1]
    assert re.findall(r'href="/ui/items/(\d+)"', rev.get("/ui/queue?bank=others").text) == [str(normal)]
    only = re.findall(r'href="/ui/items/(\d+)"', rev.get("/ui/queue?reason=deepfake-match").text)
    assert only == [str(first), str(later_high)]
    assert re.findall(r'href="/ui/items/(\d+)"', rev.get("/ui/queue?source=scan").text) == []
    assert len(re.findall(r'href="/ui/items/(\d+)"', rev.get("/ui/queue?source=api&signal=bank").text)) == 3
    assert re.findall(r'href="/ui/items/(\d+)"', rev.get("/ui/queue?since=2999-01-01").text) == []
    assert rev.get("/ui/queue?since=nonsense").status_code == 400


def test_sign_in_cookies_rate_limit_and_expiry(rv) -> None:  # type: ignore[no-untyped-def]
    client = rv.api()
    page = client.get("/ui/login")
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    def attempt(password: str, token: str | None = None):  # type: ignore[no-untyped-def]
        fresh_token = CSRF.search(client.get("/ui/login").text).group(1)  # type: ignore[union-attr]
        return client.post("/ui/login", data={"csrf": token or fresh_token, "name": "rev",
                                              "password": password})

    assert "Wrong name or password" in attempt("wrong").text
    assert attempt(PASSWORD, "forged").url.query == b"e=expired"
    for _ in range(4):
        attempt("wrong")
    assert len(_audit_rows(rv, "ui.signin_failed")) == 5
    locked = attempt(PASSWORD)
    assert "Too many failed sign-ins" in locked.text and locked.url.path == "/ui/login"
    assert _audit_rows(rv, "ui.signin_locked")
    # another person is not locked out; their session cookie is Secure, HttpOnly, SameSite
    fresh = rv.api()
    t = CSRF.search(fresh.get("/ui/login").text).group(1)  # type: ignore[union-attr]
    ok = fresh.post("/ui/login", data={"csrf": t, "name": "rev2", "password": PASSWORD},
                    follow_redirects=False)
    session_cookie = ok.headers["set-cookie"].lower()
    assert "consentry_session=" in session_cookie and "httponly" in session_cookie
    assert "secure" in session_cookie and "samesite=strict" in session_cookie
    assert fresh.get("/ui/queue").url.path == "/ui/queue"
    with rv.db.session() as session:  # idle past the limit: signed out
        session.execute(update(ReviewSession).values(last_seen_at=utcnow() - timedelta(hours=1)))
    assert fresh.get("/ui/queue").url.path == "/ui/login"
    late = sign_in(rv, "rev2")
    with rv.db.session() as session:  # past its lifetime, however busy: signed out
        session.execute(update(ReviewSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert late.get("/ui/queue").url.path == "/ui/login"
    # never sent on to another site after signing in
    t = CSRF.search(fresh.get("/ui/login").text).group(1)  # type: ignore[union-attr]
    away = fresh.post("/ui/login", data={"csrf": t, "name": "rev2", "password": PASSWORD,
                                         "next": "//evil.example/ui/"}, follow_redirects=False)
    assert away.headers["location"] == "/ui/queue"
    # signing out ends the session on the server, not only in the browser
    again = sign_in(rv, "rev2")
    stolen = dict(again.cookies)
    assert post(again, "/ui/logout").status_code == 303
    thief = rv.api()
    thief.cookies.update(stolen)
    assert thief.get("/ui/queue").url.path == "/ui/login"


def _ui_rules(app) -> list[tuple[str, str, frozenset[str] | None]]:  # type: ignore[no-untyped-def]
    from fastapi.routing import APIRoute

    from consentry.service.ui.web import Signed

    def walk(routes, prefix: str = ""):  # type: ignore[no-untyped-def]
        for route in routes:  # FastAPI keeps an included router as one route
            if isinstance(route, APIRoute):
                yield prefix + route.path, route
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)

    found = []
    for path, route in walk(app.routes):
        if path.startswith("/ui"):
            rule = next((d.call.roles for d in route.dependant.dependencies
                         if isinstance(d.call, Signed)), None)
            found += [(method, path, rule) for method in route.methods - {"HEAD"}]
    return found


def test_every_ui_route_for_every_role(rv) -> None:  # type: ignore[no-untyped-def]
    api = rv.api()
    item = rv.queued(api, 8)
    rules = _ui_rules(rv.app)
    assert len(rules) >= 16
    signed = {name: sign_in(rv, name) for name in PEOPLE}
    anonymous = rv.api()
    for method, path, roles in rules:
        url = path.replace("{item_id}", str(item))
        if roles is None:  # sign-in and static files
            assert anonymous.request(method, url, follow_redirects=False).status_code in (200, 303), url
            continue
        r = anonymous.request(method, url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login"), (method, url)
        for name, role in PEOPLE.items():
            client = signed[name]
            if method == "POST":
                if url.endswith("/logout"):
                    continue  # walked last
                data = {"csrf": csrf(client), "decision": "escalate", "blur": "100"}
                answer = client.post(url, data=data, follow_redirects=False)
            else:
                answer = client.get(url, follow_redirects=False)
            refused = answer.status_code == 403 and "role may not use this page" in answer.text
            if role in roles:  # let through (what follows may still say no: 404, 409)
                assert answer.status_code < 500 and not refused, (method, url, role, answer.status_code)
            else:
                assert refused, (method, url, role, answer.status_code)
    for client in signed.values():
        assert post(client, "/ui/logout").status_code == 303


def test_every_form_carries_a_csrf_token_and_needs_it(rv) -> None:  # type: ignore[no-untyped-def]
    api = rv.api()
    item = rv.queued(api, 9)
    senior = sign_in(rv, "rev")
    token = csrf(senior)
    actions = set()
    for page in ("/ui/queue", f"/ui/items/{item}", "/ui/settings"):
        html = senior.get(page).text
        for form in re.findall(r"<form[^>]*>.*?</form>", html, re.S):
            if 'method="post"' not in form:
                assert 'method="get"' in form  # the filters: they change nothing
                continue
            assert f'name="csrf" value="{token}"' in form, form
            actions.add(re.search(r'action="([^"]+)"', form).group(1))  # type: ignore[union-attr]
    assert {f"/ui/items/{item}/reveal", f"/ui/items/{item}/claim", f"/ui/items/{item}/decision",
            "/ui/settings", "/ui/logout"} <= actions
    before = len(_audit_rows(rv, "review.reveal")) + len(_audit_rows(rv, "review.decision"))
    for action in sorted(actions | {"/ui/break", f"/ui/items/{item}/release"}):
        for data in ({}, {"csrf": "forged"}):
            r = senior.post(action, data={**data, "decision": "reject", "blur": "25"}, follow_redirects=False)
            assert r.status_code == 403 and "CSRF" in r.text, action
    after = len(_audit_rows(rv, "review.reveal")) + len(_audit_rows(rv, "review.decision"))
    assert after == before and senior.get("/ui/queue").status_code == 200


def test_hostile_names_and_notes_render_inert(rv) -> None:  # type: ignore[no-untyped-def]
    from consentry.match.banks import service as banks

    api = rv.api()
    hostile = '<img src=x onerror=alert(1)>"\'.png'
    item = scan_into_review(rv, api, 10, hostile)
    bank = "<script>alert('bank')</script>"
    banks.create(rv.db, bank, "ncii", "tester")
    rev = sign_in(rv, "rev")
    note = '<svg onload=alert("note")>&amp;'
    assert post(rev, f"/ui/items/{item}/decision", decision="escalate", note=note).status_code == 303
    senior = sign_in(rv, "senior")
    for page in ("/ui/queue", f"/ui/items/{item}"):
        html = senior.get(page).text
        for raw in ("<img src=x", "<script>alert", "<svg onload"):
            assert raw not in html, (page, raw)
    item_html = senior.get(f"/ui/items/{item}").text
    assert escape(note) in item_html and escape(bank) in item_html and escape(hostile) in item_html
    assert escape(hostile) in senior.get("/ui/queue?source=scan").text
    assert "'self'" in senior.get("/ui/queue").headers["content-security-policy"]


def test_user_command(run_cli, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    made = run_cli("user", "create", "--name", "dana", "--role", "senior_reviewer", "--password",
                   "twelve chars!", "--json")
    assert made.code == 0 and made.lines == [{"name": "dana", "role": "senior_reviewer"}]
    assert run_cli("user", "create", "--name", "eve", "--role", "reviewer", "--password", "short").code == 2
    assert run_cli("user", "create", "--name", "x", "--role", "boss", "--password", "x" * 12).code == 2
    prompted = run_cli("user", "create", "--name", "fay", "--role", "reviewer",
                       input="another long one\nanother long one\n")
    assert prompted.code == 0, prompted.stderr
    assert {p["name"] for p in run_cli("user", "list", "--json").lines} == {"dana", "fay"}
    from consentry.store.db import open_database

    db = open_database(sqlite_url)
    assert review_store.check_password(db, "fay", "another long one") is not None
    assert review_store.check_password(db, "fay", "wrong") is None
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "person.create")) == 2
    db.close()


def test_the_manipulation_plot_is_never_empty() -> None:
    from consentry.service.ui.evidence import manipulation_svg

    still = manipulation_svg({"score": 0.71, "threshold": 0.65395, "flagged": True,
                              "tracks": [{"track": 0, "score": 0.71, "timeline": [[0.0, 0.71]]}]}, True)
    assert still.count('class="value"') == 1 and 'class="threshold"' in still and "0.710" in still
    assert "polyline" not in still
    video = manipulation_svg({"score": 0.4, "threshold": 0.65, "tracks": [
        {"track": 0, "score": 0.4, "timeline": [[0.0, 0.1], [0.5, 0.4], [1.0, 0.2]]},
        {"track": 1, "score": 0.2, "timeline": [[0.5, 0.2], [1.5, 0.1]]}]}, False)
    assert video.count('class="track"') == 2 and "0.0 to 1.5" in video
    assert manipulation_svg({}, True) == "" and manipulation_svg({"score": None}, False) == ""

