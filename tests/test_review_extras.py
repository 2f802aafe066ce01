"""Review, the remainders: `consentry review purge` deletes kept media past its schedule now
(audited), sign-in is limited per client address as well as per name, `consentry serve`'s
--review-* flags set what the CONSENTRY_REVIEW_* variables set, and the item page draws face
boxes with their manipulation scores over kept media only."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from consentry.store import audit
from consentry.store.tables.core import utcnow
from consentry.store.tables.review import RetainedMedia
from tests.test_review_support import CSRF, PASSWORD, build, close, post, sign_in


@pytest.fixture
def rv(sqlite_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    r = build(sqlite_url, tmp_path)
    yield r
    close(r)


def test_review_purge_deletes_what_is_due_now_and_is_audited(rv, run_cli) -> None:  # type: ignore[no-untyped-def]
    api = rv.api()
    decided, waiting = rv.queued(api, 61), rv.queued(api, 62)
    assert post(sign_in(rv, "rev"), f"/ui/items/{decided}/decision", decision="reject").status_code == 303
    with rv.db.session() as session:
        files = {i: Path(session.get(RetainedMedia, i).path) for i in (decided, waiting)}
    assert run_cli("review", "purge", "--json").lines == [{"purged": 0, "items": [], "dry_run": False}]
    with rv.db.session() as session:  # its days are up
        session.execute(update(RetainedMedia).where(RetainedMedia.item_id == decided)
                        .values(delete_after=utcnow() - timedelta(minutes=1)))
    dry = run_cli("review", "purge", "--dry-run", "--json")
    assert dry.lines == [{"purged": 0, "items": [decided], "dry_run": True}] and files[decided].exists()
    done = run_cli("review", "purge")
    assert done.code == 0 and f"deleted the kept media of 1 item(s): {decided}" in done.stdout
    assert not files[decided].exists() and files[waiting].exists()  # still in review: kept
    with rv.db.session() as session:
        row = session.get(RetainedMedia, decided)
        assert row.wrapped_key is None and row.deleted_at is not None
        (purge,) = audit.rows(session, action="review.media_purge")
        assert purge.details == {"items": [decided]} and purge.actor != "consentry:retention"
        assert audit.verify(session).ok
    assert run_cli("review", "purge", "--json").lines[0]["items"] == []  # once


def _attempt(client, name: str, password: str):  # type: ignore[no-untyped-def]
    token = CSRF.search(client.get("/ui/login").text).group(1)  # type: ignore[union-attr]
    return client.post("/ui/login", data={"csrf": token, "name": name, "password": password})


def test_sign_in_is_limited_per_client_address_too(rv) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    rv.app.state.review = dataclasses.replace(rv.review, signin_failures_per_address=3)

    def client(address: str) -> TestClient:
        c = TestClient(rv.app, base_url="https://testserver", client=(address, 40000))
        c.__enter__()
        rv.clients.append(c)
        return c

    guesser = client("192.0.2.7")
    for name in ("rev", "rev2", "senior"):  # one guess per name: no name reaches its own limit
        assert "Wrong name or password" in _attempt(guesser, name, "wrong guess").text
    refused = _attempt(guesser, "adm", PASSWORD)  # even the right password, from here
    assert "from this address" in refused.text and refused.url.path == "/ui/login"
    with rv.db.session() as session:
        (locked,) = audit.rows(session, action="ui.signin_locked")
    assert locked.actor == "ui:192.0.2.7" and locked.details == {"limit": "address"}
    elsewhere = _attempt(client("198.51.100.4"), "adm", PASSWORD)
    assert elsewhere.url.path == "/ui/queue"  # another address is not locked out


def test_serve_flags_set_the_review_settings_and_env_vars_still_work(monkeypatch, tmp_path: Path,
                                                                     run_cli) -> None:  # type: ignore[no-untyped-def]
    import base64
    import os

    from consentry.service.ui.settings import SERVE_FLAGS, apply_serve_flags

    for var in (*SERVE_FLAGS.values(), "CONSENTRY_REVIEW_MEDIA", "CONSENTRY_REVIEW_MEDIA_KEY"):
        monkeypatch.setenv(var, "")  # recorded, so what apply_serve_flags sets is undone after
        monkeypatch.delenv(var)
    monkeypatch.setenv("CONSENTRY_REVIEW_CLAIM_MIN", "20")  # a variable, no flag: kept
    monkeypatch.setenv("CONSENTRY_REVIEW_BREAK_AFTER", "40")  # a flag wins over it
    key = tmp_path / "review.key"
    key.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    settings = apply_serve_flags({"review_break_after": 10, "review_keep_days": 2.5,
                                  "review_signin_failures_per_address": 7,
                                  "review_media_dir": tmp_path / "kept", "review_claim_min": None},
                                 retain=True, key_file=key)
    assert settings.retain_media and settings.media_key is not None and len(settings.media_key) == 32
    assert (settings.break_after, settings.keep_days, settings.claim_s) == (10, 2.5, 20 * 60)
    assert settings.signin_failures_per_address == 7 and settings.media_dir == tmp_path / "kept"
    assert os.environ["CONSENTRY_REVIEW_BREAK_AFTER"] == "10"  # what the service's processes read
    # bad values fail before anything starts, with the reason
    bad = run_cli("serve", "--review-break-after", "0")
    assert bad.code == 2 and "review-break-after" in bad.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTRY_REVIEW_")}
    no_key = run_cli("serve", "--review-media", env=env)
    assert no_key.code == 2 and "CONSENTRY_REVIEW_MEDIA_KEY" in no_key.stderr


def test_face_boxes_with_scores_over_kept_media_only(sqlite_url: str, tmp_path: Path) -> None:
    from consentry.match.banks import service as banks
    from consentry.match.banks.records import records_from_item
    from consentry.testing.samples import astronaut

    pytest.importorskip("dlib")
    pytest.importorskip("onnxruntime")
    for retain in (True, False):
        r = build(sqlite_url.replace(".db", f"-{retain}.db"), tmp_path / str(retain), retain=retain)
        try:
            api = r.api()
            photo = r.folder / "astronaut.png"
            astronaut().save(photo)
            banks.add(r.db, "deepfakes", records_from_item(r.upload(api, photo)), source="file", actor="test")
            result = r.upload(api, photo, signals="hash,faces,manipulation")
            assert result["verdict"]["action"] == "review" and result["faces"], result.get("signal_errors")
            page = sign_in(r, "rev").get(f"/ui/items/{result['item_id']}").text
            if not retain:
                assert "face-overlay" not in page and "<rect class=\"face" not in page
                continue
            svg = re.search(r'<svg class="face-overlay" viewBox="0 0 (\d+) (\d+)".*?</svg>', page, re.S)
            assert svg is not None and (int(svg.group(1)), int(svg.group(2))) == (512, 512)
            assert svg.group(0).count('<rect class="face') == len(result["faces"])
            x0, y0 = result["faces"][0]["box"][:2]
            assert f'x="{float(x0):.1f}" y="{float(y0):.1f}"' in svg.group(0)
            score = result["manipulation"]["tracks"][0]["score"]
            assert f"face 1: {score:.3f}" in svg.group(0)
            assert 'class="protected"' in page  # the picture under it stays blurred
        finally:
            close(r)
