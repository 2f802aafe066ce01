"""``consentry case``: a victim's ``case submit`` sends a file made by ``consentry hash`` to a
running helpline and prints the case number and PIN; staff list, show, note, record consent,
share and withdraw on the database, audited under their own account."""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path

import pytest

from tests.conftest import free_port

pytest.importorskip("uvicorn")
warnings.filterwarnings("ignore", category=DeprecationWarning)

import uvicorn  # noqa: E402

from consentry.service import ServiceSettings, create_app  # noqa: E402
from consentry.store import audit  # noqa: E402
from consentry.store.db import current_actor, open_database  # noqa: E402
from tests.test_cases import hash_photo  # noqa: E402


def test_submit_then_staff_commands(run_cli, sqlite_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    submission = hash_photo(tmp_path / "submission.json")
    db = open_database(sqlite_url)
    app = create_app(db, ServiceSettings(spool_dir=tmp_path / "spool", rate_per_minute=0))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        sent = run_cli("--json", "case", "submit", str(submission), "--to", url)
        assert sent.code == 0, sent.stderr
        number, pin = sent.lines[0]["case"], sent.lines[0]["pin"]
        assert sent.lines[0]["hashes"] == 2 and len(pin) == 10
        human = run_cli("case", "submit", str(submission), "--to", url)
        assert human.code == 0 and "PIN:" in human.stdout and "shown only now" in human.stderr
        refused = run_cli("case", "submit", str(tmp_path / "spool" / ".."), "--to", url)
        assert refused.code == 2
        not_json = tmp_path / "notes.txt"
        not_json.write_text("hello")
        assert "not a submission file" in run_cli("case", "submit", str(not_json), "--to", url).stderr
        wrong_kind = tmp_path / "other.json"
        wrong_kind.write_text('{"format": "other"}')
        bad = run_cli("case", "submit", str(wrong_kind), "--to", url)
        assert bad.code == 2 and "refused the submission (422)" in bad.stderr
        away = run_cli("case", "submit", str(submission), "--to", f"http://127.0.0.1:{free_port()}")
        assert away.code == 2 and "could not reach" in away.stderr
    finally:
        server.should_exit = True
        thread.join(10)
    listed = run_cli("--json", "case", "list", db=sqlite_url)
    assert listed.code == 0 and {c["case"] for c in listed.lines} >= {number}
    assert pin not in listed.stdout
    assert run_cli("case", "note", str(number), "called, all fine", db=sqlite_url).code == 0
    no_how = run_cli("case", "consent", str(number), "--share", db=sqlite_url)
    assert no_how.code == 2 and "say how" in no_how.stderr
    assert run_cli("case", "consent", str(number), "--share", "--how", "phone", db=sqlite_url).code == 0
    shared = run_cli("--json", "case", "share", str(number), db=sqlite_url)
    assert shared.lines[0]["shared"] == 2
    shown = run_cli("--json", "case", "show", str(number), db=sqlite_url).lines[0]
    assert shown["notes"][0]["text"] == "called, all fine" and shown["shared_with_partners"] is True
    gone = run_cli("--json", "case", "withdraw", str(number), "--reason", "asked by phone", db=sqlite_url)
    assert gone.code == 0 and gone.lines[0]["withdrawn"] == 2
    text = run_cli("case", "show", str(number), db=sqlite_url)
    assert "withdrawn" in text.stdout and "called, all fine" in text.stdout
    assert run_cli("case", "show", "12345", db=sqlite_url).code == 2
    with db.session() as session:
        rows = audit.rows(session, subject=f"case:{number}", limit=20)
        assert [r.action for r in rows] == ["case.open", "case.note", "case.consent", "case.share",
                                            "case.withdraw"]
        assert rows[-1].actor == current_actor()
    db.close()
