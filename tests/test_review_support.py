"""Shared set-up of the review tests (no tests here): a service with review configured (media
kept, encrypted), a job runner thread feeding it, people of every role, banks, and helpers to
sign in and to post forms with their CSRF token."""

from __future__ import annotations

import re
import secrets
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("jinja2")
pytest.importorskip("cryptography")
warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

from consentry.match.banks import service as banks  # noqa: E402
from consentry.match.banks.records import records_from_item  # noqa: E402
from consentry.service import ServiceSettings, create_app  # noqa: E402
from consentry.service.jobs import JobRunner  # noqa: E402
from consentry.service.ui.settings import RetentionSink, ReviewSettings  # noqa: E402
from consentry.store import keys  # noqa: E402
from consentry.store import review as review_store  # noqa: E402
from consentry.store.db import Database, open_database  # noqa: E402
from consentry.testing.samples import synthetic_scene  # noqa: E402

PASSWORD = "a long test password"
PEOPLE = {"rev": "reviewer", "rev2": "reviewer", "senior": "senior_reviewer",
          "senior2": "senior_reviewer", "op": "operator", "adm": "admin"}
DEEPFAKES, TARGET, ALLOW = "deepfakes", "NCII_CONFIRMED", "ALLOW_LIST"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Review:
    db: Database
    app: Any
    settings: ServiceSettings
    review: ReviewSettings
    tokens: dict[str, str]
    folder: Path
    runner: JobRunner | None = None
    clients: list[TestClient] = field(default_factory=list)

    def api(self) -> TestClient:
        client = TestClient(self.app, base_url="https://testserver")
        client.__enter__()
        self.clients.append(client)
        return client

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def image(self, seed: int, name: str | None = None) -> Path:
        path = self.folder / (name or f"scene-{seed}.png")
        synthetic_scene(seed=seed).save(path)
        return path

    def upload(self, client: TestClient, path: Path, role: str = "submitter", **data: str) -> dict[str, Any]:
        with open(path, "rb") as f:
            r = client.post("/v1/scan?wait=60", files={"file": (path.name, f)},
                            data={"signals": "hash", **data}, headers=self.auth(role))
        assert r.status_code == 200, r.text
        return r.json()["result"]

    def bank_image(self, client: TestClient, path: Path, bank: str = DEEPFAKES) -> None:
        """Put the image's hashes in ``bank`` (a deepfake bank sends matches to review)."""
        result = self.upload(client, path)
        banks.add(self.db, bank, records_from_item(result), source="file", actor="test")

    def queued(self, client: TestClient, seed: int, name: str | None = None) -> int:
        """An upload the policy sends to review: its item id."""
        path = self.image(seed, name)
        self.bank_image(client, path)
        result = self.upload(client, path)
        assert result["verdict"]["action"] == "review", result["verdict"]
        return int(result["item_id"])


def scan_into_review(r: Review, client: TestClient, seed: int, name: str) -> int:
    """An item stored by a scan (the CLI's path, so the file's own name is kept) that the
    policy sends to review: its item id."""
    from consentry.pipeline.scan import Pipeline
    from consentry.policy.engine import RulesPolicy
    from consentry.settings import ScanSettings

    path = r.image(seed, name)
    r.bank_image(client, path)
    sink = _Collect()
    Pipeline(r.db, RulesPolicy.from_file(None)).scan([path], [sink], ScanSettings(signals=("hash",)),
                                                     workers=0)
    (report,) = sink.reports
    assert report.verdict is not None and report.verdict.action == "review"
    return int(report.item_id)  # type: ignore[arg-type]


class _Collect:
    def __init__(self) -> None:
        self.reports: list[Any] = []

    def start(self, scan_id: int, total: int | None) -> None:
        pass

    def item(self, report: Any) -> None:
        self.reports.append(report)

    def flush(self) -> None:
        pass

    def finish(self, summary: Any) -> None:
        pass


def build(db_url: str, tmp_path: Path, *, retain: bool = True, break_after: int = 25) -> Review:
    db = open_database(db_url)
    settings = ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0, job_poll_s=0.02,
                               scan_workers=1)
    review = ReviewSettings(retain_media=retain, media_key=secrets.token_bytes(32) if retain else None,
                            media_dir=tmp_path / "kept", keep_days=7, break_after=break_after)
    app = create_app(db, settings)
    app.state.review = review
    vault = review.vault(db, settings.spool_dir)
    runner = JobRunner(db, settings, extra_sinks=(RetentionSink(vault),) if vault else ())
    threading.Thread(target=runner.run_forever, daemon=True).start()
    tokens = {role: keys.create(db, f"t-{role}", role, "tester")[0]
              for role in ("submitter", "reviewer", "operator", "admin")}
    tokens["submitter2"] = keys.create(db, "t-submitter2", "submitter", "tester")[0]
    for name, role in PEOPLE.items():
        review_store.create_person(db, name, role, PASSWORD, "tester")
    banks.create(db, DEEPFAKES, "deepfake", "tester")
    banks.create(db, TARGET, "ncii", "tester")
    banks.create(db, ALLOW, "allow", "tester")
    folder = tmp_path / "media"
    folder.mkdir()
    return Review(db, app, settings, review, tokens, folder, runner)


def close(r: Review) -> None:
    for client in r.clients:
        client.__exit__(None, None, None)
    if r.runner is not None:
        r.runner.stop.set()
    r.db.close()


def sign_in(r: Review, name: str) -> TestClient:
    client = r.api()
    page = client.get("/ui/login")
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    done = client.post("/ui/login", data={"csrf": token, "name": name, "password": PASSWORD,
                                          "next": "/ui/queue"})
    assert done.status_code == 200 and done.url.path == "/ui/queue", done.text[:500]
    return client


def csrf(client: TestClient, page: str = "/ui/queue") -> str:
    return CSRF.search(client.get(page).text).group(1)  # type: ignore[union-attr]


def post(client: TestClient, url: str, **data: str) -> Any:
    return client.post(url, data={"csrf": csrf(client), **data}, follow_redirects=False)
