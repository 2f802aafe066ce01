"""Review media: kept encrypted only while in review and for the configured days after the
decision, then gone (file and key); off unless configured; the wellness defaults (blurred,
greyscale, a per-reviewer lighter blur, one audited reveal, a break reminder); videos as a
blurred keyframe strip, played muted and never on their own, only after the reveal."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from consentry.errors import ConfigError
from consentry.store import audit
from consentry.store.retention import purge_expired
from consentry.store.tables.core import utcnow
from consentry.store.tables.review import RetainedMedia
from tests.conftest import left_in
from tests.test_review_support import build, close, post, sign_in


@pytest.fixture
def rv(sqlite_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    r = build(sqlite_url, tmp_path, break_after=3)
    yield r
    close(r)


def _audit_rows(r, action: str) -> list:  # type: ignore[no-untyped-def]
    with r.db.session() as session:
        return audit.rows(session, action=action, limit=1000)


def test_media_is_kept_encrypted_and_gone_after_retention(rv) -> None:  # type: ignore[no-untyped-def]
    api = rv.api()
    item = rv.queued(api, 11)
    original = rv.image(11).read_bytes()
    with rv.db.session() as session:
        kept = session.get(RetainedMedia, item)
        stored = Path(kept.path)
        assert kept.delete_after is None and kept.wrapped_key
    blob = stored.read_bytes()
    assert original[100:164] not in blob and len(blob) >= len(original)  # ciphertext, not the file
    assert left_in(rv.settings.spool_dir / "jobs") == []  # the spool copy went with the job
    rev = sign_in(rv, "rev")
    assert rev.get(f"/ui/items/{item}/picture").status_code == 200
    assert post(rev, f"/ui/items/{item}/decision", decision="reject").status_code == 303
    with rv.db.session() as session:
        due = session.get(RetainedMedia, item).delete_after
    assert due is not None and purge_expired(rv.db) == []  # kept for keep_days after the decision
    assert rev.get(f"/ui/items/{item}/picture").status_code == 200
    assert purge_expired(rv.db, now=utcnow() + timedelta(days=7, minutes=1)) == [item]
    assert not stored.exists() and not list(stored.parent.iterdir())
    with rv.db.session() as session:
        row = session.get(RetainedMedia, item)
        assert row.wrapped_key is None and row.deleted_at is not None
    assert original[100:164] not in rv.db.sqlite_path.read_bytes()  # type: ignore[union-attr]
    assert rev.get(f"/ui/items/{item}/picture").status_code == 404
    assert "deleted when its retention ended" in rev.get(f"/ui/items/{item}").text


def test_retention_is_off_unless_configured(sqlite_url: str, tmp_path: Path) -> None:
    r = build(sqlite_url, tmp_path, retain=False)
    try:
        api = r.api()
        item = r.queued(api, 12)
        with r.db.session() as session:
            assert session.scalar(select(func.count()).select_from(RetainedMedia)) == 0
        assert not (tmp_path / "kept").exists()
        page = sign_in(r, "rev").get(f"/ui/items/{item}").text
        assert "retention is off" in page
    finally:
        close(r)
    with pytest.raises(ConfigError):
        from consentry.service.ui.settings import ReviewSettings

        ReviewSettings(retain_media=True)


def test_wellness_blur_reveal_and_break(rv) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    api = rv.api()
    items = [rv.queued(api, 20 + i) for i in range(3)]
    rev = sign_in(rv, "rev")
    page = rev.get(f"/ui/items/{items[0]}").text
    assert 'class="protected"' in page and 'id="reveal"' in page and 'id="break-reminder"' not in page

    def picture(client) -> Image.Image:  # type: ignore[no-untyped-def]
        r = client.get(f"/ui/items/{items[0]}/picture")
        assert r.headers["content-type"] == "image/jpeg" and r.headers["cache-control"] == "no-store"
        return Image.open(io.BytesIO(r.content))

    blurred = picture(rev)
    assert blurred.mode == "L"  # greyscale
    assert post(rev, "/ui/settings", blur="25").status_code == 303
    lighter = picture(rev)
    assert lighter.mode == "L" and lighter.tobytes() != blurred.tobytes()
    assert picture(sign_in(rv, "rev2")).tobytes() == blurred.tobytes()  # for that reviewer only
    assert post(rev, "/ui/settings", blur="0").status_code == 400  # never unblurred by a setting
    assert post(rev, f"/ui/items/{items[0]}/reveal").status_code == 303
    assert post(rev, f"/ui/items/{items[0]}/reveal").status_code == 303  # once: one audit row
    reveals = _audit_rows(rv, "review.reveal")
    assert [(a.actor, a.subject) for a in reveals] == [("person:rev", f"item:{items[0]}")]
    assert picture(rev).mode == "RGB"
    for item in items[1:]:
        rev.get(f"/ui/items/{item}")
    page = rev.get("/ui/queue").text
    assert 'id="break-reminder"' in page and "3 items this session" in page
    assert post(rev, "/ui/break").status_code == 303
    assert 'id="break-reminder"' not in rev.get("/ui/queue").text


def test_a_video_shows_blurred_keyframes_and_plays_muted_only_after_a_reveal(rv) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from consentry.testing.samples import write_video

    api = rv.api()
    path = write_video(rv.folder / "clip.mp4", frames=45, fps=15, seed=3)
    rv.bank_image(api, path)
    result = rv.upload(api, path)
    assert result["kind"] == "video" and result["verdict"]["action"] == "review"
    item = int(result["item_id"])
    rev = sign_in(rv, "rev")
    page = rev.get(f"/ui/items/{item}").text
    assert page.count(f'src="/ui/items/{item}/keyframe?i=') == 6 and "<video" not in page
    frame = rev.get(f"/ui/items/{item}/keyframe?i=2")
    assert frame.status_code == 200 and Image.open(io.BytesIO(frame.content)).mode == "L"
    assert rev.get(f"/ui/items/{item}/video").status_code == 403  # not before the reveal
    assert post(rev, f"/ui/items/{item}/reveal").status_code == 303
    page = rev.get(f"/ui/items/{item}").text
    tag = re.search(r"<video[^>]*>", page).group(0)  # type: ignore[union-attr]
    assert "muted" in tag and "autoplay" not in tag and "controls" in tag
    played = rev.get(f"/ui/items/{item}/video")
    assert played.status_code == 200 and played.content == path.read_bytes()
    assert Image.open(io.BytesIO(rev.get(f"/ui/items/{item}/keyframe?i=2").content)).mode == "RGB"

