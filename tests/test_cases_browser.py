"""A victim opens a case from the offline hash page in a real browser (Playwright driving
Debian's Chromium from a file:// page, as a victim would open it): the page hashes the photo
on the device, sends only the submission JSON to the helpline and shows the case number and
PIN; an upload of the photo is then caught; a case worker notes the case and records consent
in the UI; after the victim withdraws, the upload is not caught.

A screenshot of the case page goes to docs/ with CONSENTRY_UI_SCREENSHOTS=docs (no media:
a case has none):
    CONSENTRY_UI_SCREENSHOTS=docs .venv/bin/pytest -q tests/test_cases_browser.py
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("playwright")
warnings.filterwarnings("ignore", category=DeprecationWarning)
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from consentry.hashpage import build_page  # noqa: E402
from consentry.service import ServiceSettings, create_app  # noqa: E402
from consentry.store import keys  # noqa: E402
from consentry.store import review as review_store  # noqa: E402
from consentry.store.db import open_database  # noqa: E402
from tests.conftest import CHROMIUM_ARGS, ROOT, THREATEXCHANGE, free_port, need  # noqa: E402

PHOTO = THREATEXCHANGE / "pdq" / "data" / "bridge-mods" / "aaa-orig.jpg"
PASSWORD = "a long test password"



@pytest.fixture
def served(sqlite_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    db = open_database(sqlite_url)
    app = create_app(db, ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0))
    token, _ = keys.create(db, "platform", "submitter", "tester")
    review_store.create_person(db, "case-worker", "reviewer", PASSWORD, "tester")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():  # on progress, not a guessed sleep
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=120) as api:
        yield base, api, {"Authorization": f"Bearer {token}"}
    server.should_exit = True
    thread.join(10)
    db.close()


def _shot(page, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("CONSENTRY_UI_SCREENSHOTS") == "docs":
        shutil.copy(path, ROOT / "docs" / name)


def _caught(api: httpx.Client, h: dict[str, str]) -> bool:
    with open(PHOTO, "rb") as f:
        r = api.post("/m/lookup", files={"photo": (PHOTO.name, f, "image/jpeg")}, headers=h)
    assert r.status_code == 200, r.text
    return "helpline-cases" in r.json()["pdq"]


def test_the_offline_page_opens_a_case(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    need(PHOTO)
    base, api, h = served
    assert not _caught(api, h)
    page_file = tmp_path / "hasher.html"
    page_file.write_text(build_page(base), encoding="utf-8")
    sent: list[tuple[str, str, bytes | None]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda r: sent.append((r.method, r.url, r.post_data_buffer)))
            page.goto(page_file.as_uri())
            assert page.locator("#send").is_disabled()
            page.set_input_files("#files", str(PHOTO))
            page.locator("#send:enabled").wait_for(timeout=120_000)
            page.click("#send")
            page.locator("#case-pin").wait_for(timeout=120_000)
            number = int(page.locator("#case-number").inner_text())
            pin = page.locator("#case-pin").inner_text()
            # a case worker, in the review UI
            staff = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
            staff.on("dialog", lambda d: d.accept())
            staff.goto(f"{base}/ui/cases")
            staff.fill("input[name=name]", "case-worker")
            staff.fill("input[name=password]", PASSWORD)
            staff.click("button[type=submit]")
            staff.wait_for_url(f"{base}/ui/cases")
            staff.click(f'a[href="/ui/cases/{number}"]')
            staff.fill("textarea[name=text]", "Called back on 2026-12-01; prefers email.")
            staff.click("text=Add note")
            staff.fill("input[name=how]", "by phone, read back")
            staff.click("text=Record consent")
            staff.locator("#share").wait_for()
            assert "Hashes: 2 active" in staff.inner_text("#hashes")
            assert "prefers email" in staff.content() and pin not in staff.content()
            _shot(staff, tmp_path, "cases-page.png")
        finally:
            browser.close()
    posts = [(url, body) for method, url, body in sent if method == "POST"]  # the victim's page only
    assert [url for url, _ in posts] == [f"{base}/v1/cases"]  # one request, to the helpline only
    body = posts[0][1] or b""
    doc = json.loads(body)  # the hashes as JSON, nothing else: no image bytes
    assert doc["format"] == "consentry.submission" and len(doc["items"]) == 1
    assert set(doc["items"][0]) == {"kind", "pdq", "md5"} and b"\xff\xd8" not in body and len(body) < 2000
    assert PHOTO.read_bytes()[:64] not in body
    status = api.request("GET", f"/v1/cases/{number}", json={"pin": pin}).json()
    assert status["status"] == "active" and status["hashes"]["active"] == 2
    assert _caught(api, h)  # the platform's upload of the photo matches the case
    assert api.post(f"/v1/cases/{number}/withdraw", json={"pin": pin}).status_code == 200
    assert not _caught(api, h)


def test_the_page_sends_nothing_unless_a_helpline_is_set() -> None:
    import re

    from consentry.errors import ConfigError
    from consentry.hashpage import helpline_origin

    plain = build_page()
    assert "fetch(" not in plain and 'id="send"' not in plain
    page = build_page("https://helpline.example.org/")
    csp = re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert "connect-src https://helpline.example.org;" in csp and "form-action 'none'" in csp
    for bad in ("ftp://x", "https://x.org/path", "javascript:alert(1)", "https://a.org\"><script>", ""):
        with pytest.raises(ConfigError):
            helpline_origin(bad)
