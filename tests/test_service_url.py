"""URL fetching for POST /v1/scan, against a real HTTP server on loopback: off by default;
on, a name that resolves to 127.0.0.1 is refused, as are private, link-local and
not-allow-listed hosts (refused before any connection); with the UNSAFE loopback setting
meant for tests, an allow-listed host is fetched, redirects stay on the host, and the size
and time limits hold."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

from consentry.service import ServiceSettings, create_app  # noqa: E402
from consentry.service.jobs import JobRunner  # noqa: E402
from consentry.service.url_fetch import FetchPolicy, UrlRefused, fetch_to, refusal  # noqa: E402
from consentry.store import keys  # noqa: E402
from consentry.store.db import open_database  # noqa: E402
from tests.conftest import THREATEXCHANGE, need  # noqa: E402

PHOTO = THREATEXCHANGE / "pdq" / "data" / "bridge-mods" / "aaa-orig.jpg"
PHOTO_PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


class Site:
    """A real HTTP server on 127.0.0.1 that counts the requests it got."""

    def __init__(self, photo: bytes) -> None:
        self.photo = photo
        self.requests: list[str] = []
        self.release = threading.Event()  # the slow page waits for it
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                site.requests.append(self.path)
                if self.path == "/photo.jpg":
                    self._send(200, site.photo)
                elif self.path == "/moved":
                    self._redirect("/photo.jpg")
                elif self.path == "/elsewhere":
                    self._redirect(f"http://127.0.0.2:{self.server.server_address[1]}/photo.jpg")
                elif self.path == "/big":
                    self._send(200, b"\xff\xd8\xff" + b"0" * 900_000)
                elif self.path == "/slow":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(site.photo)))
                    self.end_headers()
                    self.wfile.write(site.photo[:100])
                    self.wfile.flush()
                    site.release.wait(30)  # until the test has its answer
                else:
                    self._send(404, b"no")

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _redirect(self, where: str) -> None:
                self.send_response(302)
                self.send_header("Location", where)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site(need(PHOTO).read_bytes())
    s.thread.start()
    yield s
    s.release.set()
    s.server.shutdown()
    s.server.server_close()


def _client(db_url: str, tmp_path: Path, **url_settings: object):  # type: ignore[no-untyped-def]
    db = open_database(db_url)
    settings = replace(ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0), **url_settings)
    token, _ = keys.create(db, "s", "submitter", "tester")
    return db, settings, TestClient(create_app(db, settings)), {"Authorization": f"Bearer {token}"}


def test_off_by_default_and_loopback_refused_when_on(sqlite_url: str, tmp_path: Path, site: Site) -> None:
    db, _s, client, h = _client(sqlite_url, tmp_path)
    with client:
        r = client.post("/v1/scan", data={"url": site.url("/photo.jpg")}, headers=h)
        assert r.status_code == 400 and r.json()["error"] == "url_off"
        assert client.get("/h/hash", params={"url": site.url("/photo.jpg")}, headers=h).status_code == 400
    db.close()
    db, _s, client, h = _client(sqlite_url, tmp_path / "on", url_fetch=True,
                                url_allow_hosts=("localhost", "10.1.2.3", "169.254.169.254", "::1"))
    with client:
        for url, why in ((site.url("/photo.jpg"), "loopback"),  # localhost resolves to 127.0.0.1
                         (site.url("/photo.jpg", "[::1]"), "loopback"),
                         ("http://10.1.2.3/photo.jpg", "private"),
                         ("http://169.254.169.254/latest/meta-data", "link-local"),
                         (site.url("/photo.jpg", "127.0.0.1"), "allow-list"),
                         ("file:///etc/passwd", "http and https"),
                         (f"http://user:pw@localhost:{site.port}/photo.jpg", "credentials")):
            r = client.post("/v1/scan", data={"url": url}, headers=h)
            assert r.status_code == 400 and r.json()["error"] == "url_refused", (url, r.text)
            assert why in r.json()["message"], (url, r.json())
        both = client.post("/v1/scan", data={"url": site.url("/photo.jpg")}, headers=h,
                           files={"file": PHOTO.read_bytes()})
        assert both.status_code == 400
    assert site.requests == []  # nothing refused was ever connected to
    db.close()


def test_address_rules() -> None:
    for address in ("127.0.0.1", "127.8.9.1", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1",
                    "169.254.169.254", "fe80::1", "fc00::1", "100.64.0.1", "0.0.0.0", "224.0.0.1",
                    "::ffff:127.0.0.1", "::ffff:10.0.0.1"):
        assert refusal(address, allow_loopback=False) is not None, address
    assert refusal("93.184.216.34", allow_loopback=False) is None
    assert refusal("2606:2800:220:1:248:1893:25c8:1946", allow_loopback=False) is None
    # The unsafe test setting lets loopback through, and nothing else.
    assert refusal("127.0.0.1", allow_loopback=True) is None
    assert refusal("10.0.0.1", allow_loopback=True) is not None
    assert refusal("169.254.169.254", allow_loopback=True) is not None


def test_fetched_with_the_unsafe_loopback_setting(sqlite_url: str, tmp_path: Path, site: Site) -> None:
    db, settings, client, h = _client(sqlite_url, tmp_path, url_fetch=True, url_allow_hosts=("localhost",),
                                      url_allow_loopback_unsafe=True, url_max_bytes=600_000,
                                      url_timeout_s=1.0)
    with client:
        ok = client.post("/v1/scan", data={"url": site.url("/moved"), "signals": "hash"}, headers=h)
        assert ok.status_code == 202, ok.text
        assert site.requests == ["/moved", "/photo.jpg"]  # the redirect stayed on the host
        elsewhere = client.post("/v1/scan", data={"url": site.url("/elsewhere")}, headers=h)
        assert elsewhere.status_code == 400 and "another host" in elsewhere.json()["message"]
        big = client.post("/v1/scan", data={"url": site.url("/big")}, headers=h)
        assert big.status_code == 413 and big.json()["error"] == "too_large"
        slow = client.post("/v1/scan", data={"url": site.url("/slow")}, headers=h)
        site.release.set()
        assert slow.status_code == 502 and "time limit" in slow.json()["message"]
        missing = client.post("/v1/scan", data={"url": site.url("/nope")}, headers=h)
        assert missing.status_code == 502 and "404" in missing.json()["message"]
        # HMA's GET /h/hash?url= fetches the same way, and answers in HMA's shape.
        hashed = client.get("/h/hash", params={"url": site.url("/photo.jpg")}, headers=h)
        assert hashed.status_code == 200 and hashed.json() == {"pdq": PHOTO_PDQ}
        refused = client.get("/h/hash", params={"url": site.url("/elsewhere")}, headers=h)
        assert refused.status_code == 400 and set(refused.json()) == {"message"}
        # The job fetched by URL runs as an uploaded one does.
        runner = JobRunner(db, replace(settings, scan_workers=0))
        assert runner.run_once() == 1
        done = client.get(f"/v1/jobs/{ok.json()['job_id']}", headers=h).json()
        assert done["status"] == "done"
        assert done["result"]["pdq"]["hash"] == PHOTO_PDQ
    left = [p.name for p in (tmp_path / "spool" / "jobs").iterdir()]
    assert left == []  # refused fetches left nothing; the done job's bytes are gone
    db.close()


def test_fetch_to_refuses_a_name_resolving_to_loopback(tmp_path: Path, site: Site) -> None:
    policy = FetchPolicy(("localhost",), 1_000_000, 2.0)
    with pytest.raises(UrlRefused, match="loopback"):
        fetch_to(site.url("/photo.jpg"), policy, tmp_path / "x")
    assert not (tmp_path / "x").exists() and site.requests == []
    fetch_to(site.url("/photo.jpg"), replace(policy, allow_loopback_unsafe=True), tmp_path / "x")
    assert (tmp_path / "x").read_bytes() == PHOTO.read_bytes()
