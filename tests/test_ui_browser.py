"""The review UI in a real browser (Playwright driving Debian's Chromium, /usr/bin/chromium;
never `playwright install`): sign in, the queue, an item blurred by default, an audited
reveal, a confirm into a bank, the same image uploaded again through the API is blocked; an
appeal decided by a different senior reviewer withdraws the hash and it stops matching.
Hostile names and notes stay inert (no dialog but the reveal's own question).

Screenshots of the queue and the item page go to docs/ with CONSENTRY_UI_SCREENSHOTS=docs
(synthetic media only):
    CONSENTRY_UI_SCREENSHOTS=docs .venv/bin/pytest -q tests/test_ui_browser.py
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("playwright")
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from consentry.store import audit  # noqa: E402
from tests.conftest import CHROMIUM_ARGS, ROOT, free_port  # noqa: E402
from tests.test_review_support import (  # noqa: E402
    DEEPFAKES,
    PASSWORD,
    TARGET,
    build,
    close,
    scan_into_review,
)


@pytest.fixture
def served(sqlite_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    r = build(sqlite_url, tmp_path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(r.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    with httpx.Client(base_url=base, timeout=120) as api:
        yield r, base, api
    server.should_exit = True
    thread.join(10)
    close(r)


def _upload(r, api: httpx.Client, path: Path, role: str = "submitter") -> dict:  # type: ignore[no-untyped-def]
    with open(path, "rb") as f:
        res = api.post("/v1/scan", params={"wait": 60}, files={"file": (path.name, f)},
                       data={"signals": "hash"}, headers=r.auth(role))
    assert res.status_code == 200, res.text
    return res.json()["result"]


def _sign_in(page, base: str, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/ui/queue")
    assert "/ui/login" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/ui/queue")


def _shot(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("CONSENTRY_UI_SCREENSHOTS") == "docs":
        shutil.copy(path, ROOT / "docs" / name)


def test_a_shift_in_the_browser(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from consentry.match.banks import service as banks
    from consentry.match.banks.records import records_from_item

    r, base, api = served
    # two uploads the policy sends to review (their hashes are in a deepfake bank); one has a
    # hostile file name
    path = r.image(31, "holiday-0412.png")
    banks.add(r.db, DEEPFAKES, records_from_item(_upload(r, api, path)), source="file", actor="test",
              case_id="HL-31")
    item = int(_upload(r, api, path)["item_id"])
    hostile_item = scan_into_review(r, r.api(), 32, '<img src=x onerror=alert("name")>.png')
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
            _sign_in(page, base, "rev")
            cookie = next(c for c in page.context.cookies() if c["name"] == "consentry_session")
            assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
            rows = page.locator("table.queue tbody tr")
            assert rows.count() == 2
            assert page.locator(f'a[href="/ui/items/{item}"]').is_visible()
            _shot(page, tmp_path, "review-queue.png")
            page.click(f'a[href="/ui/items/{hostile_item}"]')
            page.wait_for_url(f"{base}/ui/items/{hostile_item}")
            page.fill("#escalate-form textarea[name=note]", '<script>alert("note")</script>')
            page.click("#escalate-form button[type=submit]")
            page.wait_for_url(f"{base}/ui/queue?done={hostile_item}")
            page.click(f'a[href="/ui/items/{item}"]')
            picture = page.locator("#picture")
            assert picture.get_attribute("class") == "protected"
            # the blurred picture loads (the page does not wait for images)
            # (img.decode() resolves once the picture is loaded and decoded: no polling, which
            # Playwright does with eval, and the UI's CSP forbids eval once the first check fails)
            picture.evaluate("img => img.decode()")
            assert page.locator("section[aria-label=verdict]").inner_text().count("deepfake") >= 1
            assert "HL-31" in page.locator("section[aria-label='bank matches']").inner_text()
            page.click("#claim")
            page.wait_for_url(f"{base}/ui/items/{item}")
            _shot(page, tmp_path, "review-item.png")
            page.click("#reveal")
            page.wait_for_url(f"{base}/ui/items/{item}")
            assert page.locator("#picture").get_attribute("class") == "revealed"
            with r.db.session() as session:
                reveals = audit.rows(session, action="review.reveal")
            assert [(a.actor, a.subject) for a in reveals] == [("person:rev", f"item:{item}")]
            page.select_option("#confirm-form select[name=bank]", TARGET)
            page.fill("#confirm-form input[name=label]", "ncii")
            page.fill("#confirm-form textarea[name=note]", "matches the reported case")
            page.click("#confirm-form button[type=submit]")
            page.wait_for_url(f"{base}/ui/queue?done={item}")
            assert page.locator(f'a[href="/ui/items/{item}"]').count() == 0
            # the same image again, through the API: blocked by the bank it was confirmed into
            again = _upload(r, api, path)
            assert again["verdict"]["action"] == "block"
            assert TARGET in {m["bank"] for m in again["matches"]}
            # the uploader appeals; a different senior reviewer reverses it
            appealed = api.post(f"/v1/items/{item}/appeal", json={"reason": "this is my photo"},
                                headers=r.auth("submitter"))
            assert appealed.status_code == 200, appealed.text
            senior = browser.new_context().new_page()
            senior.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
            _sign_in(senior, base, "senior")
            senior.click(f'a[href="/ui/items/{hostile_item}"]')  # the hostile name and note, inert
            assert '<script>alert("note")</script>' in senior.locator(".history").inner_text()
            assert "onerror" in senior.locator("h1").inner_text()
            senior.goto(f"{base}/ui/items/{item}")
            senior.fill("#reverse-form textarea[name=note]", "the uploader's own photo")
            senior.click("#reverse-form button[type=submit]")
            senior.wait_for_url(f"{base}/ui/queue?done={item}")
        finally:
            browser.close()
    after = _upload(r, api, path)
    assert TARGET not in {m["bank"] for m in after.get("matches", [])}
    assert dialogs == ["Show this item without blur? This is recorded."]  # nothing hostile ran


@pytest.mark.slow
def test_screens_with_detector_and_video_evidence(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The item page of an image scored by the manipulation detector (a single marked value)
    and of a video (its blurred keyframe strip), for docs/review.md."""
    from consentry.match.banks import service as banks
    from consentry.match.banks.records import records_from_item
    from consentry.testing.samples import astronaut, write_video

    r, base, api = served
    photo = r.folder / "astronaut.png"
    astronaut().save(photo)
    clip = write_video(r.folder / "clip.mp4", frames=60, fps=15, seed=5)
    ids = []
    for path, signals in ((photo, "hash,faces,manipulation"), (clip, "hash")):
        banks.add(r.db, DEEPFAKES, records_from_item(_upload(r, api, path)), source="file", actor="test",
                  case_id="HL-7")
        with open(path, "rb") as f:
            res = api.post("/v1/scan", params={"wait": 120}, files={"file": (path.name, f)},
                           data={"signals": signals, "external_id": f"post-{len(ids) + 1}"},
                           headers=r.auth("submitter"))
        assert res.status_code == 200, res.text
        ids.append(int(res.json()["result"]["item_id"]))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            _sign_in(page, base, "senior")
            page.goto(f"{base}/ui/items/{ids[0]}")
            plot = page.locator("svg.plot")
            assert plot.count() == 1 and plot.locator("circle.value").count() == 1
            _shot(page, tmp_path, "review-item-detector.png")
            page.goto(f"{base}/ui/items/{ids[1]}")
            assert page.locator(".strip img.protected").count() == 6
            page.eval_on_selector_all(".strip img", "imgs => Promise.all(imgs.map(i => i.decode()))")
            _shot(page, tmp_path, "review-item-video.png")
        finally:
            browser.close()
