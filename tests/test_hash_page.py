"""The offline hashing page: its PDQ agrees with the Python path (Meta's C++) within 10 bits on
Meta's PDQ test images in headless Chromium, its MD5 exactly, and it cannot reach the network."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from consentry.hashpage import build_page
from consentry.match.banks.submission import submission_item
from consentry.pipeline.hashing import hash_paths
from consentry.signals.hashing.pdq import distance
from tests.conftest import THREATEXCHANGE, need

PDQ = THREATEXCHANGE / "pdq" / "data"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class _Chromium:
    """Just enough of the DevTools protocol (over --remote-debugging-pipe) to load a page and
    await a JavaScript promise in it: no Playwright, no network, no downloaded browser."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def pipes_on_3_and_4() -> None:  # where Chromium expects them
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=pipes_on_3_and_4, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0

    def call(self, method: str, session: str | None = None, **params: object) -> dict:
        self._next_id += 1
        message: dict = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_child, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium exited")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(reply["error"])
                return reply["result"]

    def run_page(self, url: str, expression: str) -> object:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.navigate", session=session, url=url)
        # The page loads and starts hashing on its own time (slower on a loaded machine): poll
        # until the value exists, for a bounded while.
        deadline = time.monotonic() + 120
        while True:
            try:
                result = self.call("Runtime.evaluate", session=session, expression=expression,
                                   awaitPromise=True, returnByValue=True)
                value = result.get("result", {}).get("value")
            except RuntimeError:  # the evaluation raced the navigation's new document
                value = None
            if value is not None or time.monotonic() > deadline:
                return value
            time.sleep(0.2)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    pytest.skip("needs Chromium for the in-browser test: `apt-get install chromium` (Debian); "
                "not found as " + ", ".join(BROWSERS))


def _harness(images: list[Path]) -> str:
    """The page itself plus a script that hands it the images as in-memory files."""
    blobs = [{"name": p.name, "b64": base64.b64encode(p.read_bytes()).decode()} for p in images]
    driver = """
<script>
window.harnessResult = consentrySubmission(IMAGES.map(({name, b64}) =>
  new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, {type: "image/jpeg"})), true);
</script>""".replace("IMAGES", json.dumps(blobs))
    return build_page().replace("</body>", driver + "\n</body>")


def test_page_pdq_and_md5_agree_with_python(tmp_path: Path) -> None:
    need(PDQ)
    browser = _browser()
    data = PDQ / "reg-test-input"
    images = (sorted((PDQ / "bridge-mods").glob("*.jpg")) + sorted((data / "dih").glob("*.jpg"))
              + sorted((data / "labelme-subset").glob("*.jpg")))
    page = tmp_path / "harness.html"
    page.write_text(_harness(images))
    chromium = _Chromium(browser, tmp_path / "profile")
    try:
        doc = chromium.run_page(page.as_uri(), "window.harnessResult")
    finally:
        chromium.close()
    assert isinstance(doc, dict), doc
    assert (doc["format"], doc["version"], doc["n_unreadable"]) == ("consentry.submission", 1, 0)
    browser_items = {item["name"]: item for item in doc["items"]}
    checked = 0
    for report in hash_paths(images):
        ours = submission_item(report)
        theirs = browser_items[report.path.name]
        assert theirs["md5"] == ours["md5"], report.path.name
        if ours["pdq"]["quality"] >= 80:  # Meta's rule for a correct PDQ port
            assert distance(theirs["pdq"]["hash"], ours["pdq"]["hash"]) <= 10, report.path.name
            checked += 1
    assert checked >= 20


def test_page_cannot_use_the_network() -> None:
    page = build_page()
    csp = re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp and "form-action 'none'" in csp
    code = page.lower()
    for call in ("fetch(", "xmlhttprequest", "websocket", "sendbeacon", "eventsource", "http://", "https://"):
        assert call not in code, call


def test_hash_page_command(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "hash.html"
    res = run_cli("--json", "hash-page", "-o", str(out))
    assert res.code == 0 and res.lines[0]["output"] == str(out)
    assert out.read_text() == build_page() and "{{" not in out.read_text()
