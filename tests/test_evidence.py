"""Evidence reports: the report of an item confirmed in review renders (pdftoppm to PNG: a page
that is not blank), its text holds the hashes and the audit chain hashes that `consentry audit
verify` checks, an edited audit row no longer matches it, and it holds no image unless a
thumbnail was asked for (then one, greyscale and small). The CLI and the UI's button make it;
each report is itself an audit row with its SHA-256."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, update

pytest.importorskip("reportlab")

from consentry.store import audit
from consentry.store.tables.core import AuditEntry
from tests.test_review_support import TARGET, build, close, post, scan_into_review, sign_in

HOSTILE = '<img src=x onerror=alert(1)>"\'.png'
POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext") and shutil.which("pdfimages")
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftoppm, pdftotext, pdfimages) "
                                   "not installed: scripts/services.sh installs it with apt-get")
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


@pytest.fixture
def confirmed(sqlite_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An upload the policy sent to review (its media kept), revealed and confirmed into an
    NCII bank by a reviewer in the browser's forms."""
    r = build(sqlite_url, tmp_path)
    api = r.api()
    item = r.queued(api, 51)
    rev = sign_in(r, "rev")
    assert post(rev, f"/ui/items/{item}/reveal").status_code == 303
    assert post(rev, f"/ui/items/{item}/decision", decision="confirm", bank=TARGET, label="ncii",
                note="reported by the person shown").status_code == 303
    yield r, item, rev
    close(r)


def _pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return out.stdout


def _images(path: Path) -> list[list[str]]:
    """pdfimages -list: one row per image drawn in the PDF."""
    out = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True)
    return [line.split() for line in out.stdout.splitlines()[2:] if line.strip()]


def _first_page_png(pdf: Path, tmp_path: Path) -> Path:
    stem = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf), str(stem)], check=True)
    (png,) = tmp_path.glob("page*.png")
    return png


def _download(client, item: int, **form: str):  # type: ignore[no-untyped-def]
    return post(client, f"/ui/items/{item}/evidence", **form)


def _rows_about(r, item: int) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    from consentry.actions.evidence.gather import concerning

    with r.db.session() as session:
        rows = concerning(session, item)
        session.expunge_all()
        return rows


@needs_poppler
def test_the_report_of_a_confirmed_item_renders_and_pins_the_audit_chain(confirmed, tmp_path: Path,
                                                                         run_cli) -> None:  # type: ignore[no-untyped-def]
    r, item, rev = confirmed
    answer = _download(rev, item, format="pdf")
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"] == "application/pdf"
    assert f'filename="evidence-item-{item}.pdf"' in answer.headers["content-disposition"]
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(answer.content)
    # it renders: the first page as a PNG, not blank
    from PIL import Image, ImageStat

    page = Image.open(_first_page_png(pdf, tmp_path)).convert("L")
    dark = sum(page.histogram()[:128]) / (page.width * page.height)
    assert page.width > 400 and 0.01 < dark < 0.5, dark  # text on a white page
    assert ImageStat.Stat(page).stddev[0] > 10
    # the text holds the item's hashes, the decision and reviewer, and every audit row about it
    text = _pdf_text(pdf)
    flat = " ".join(text.split())
    with r.db.session() as session:
        from consentry.store.tables.core import Item

        result = session.get(Item, item).result
    for value in (result["md5"], result["sha256"], result["pdq"]["hash"]):
        assert value in text
    assert "person:rev (reviewer)" in flat and "confirm" in flat and TARGET in flat
    assert "hash 1" in flat  # the signal and its version
    about = [e for e in _rows_about(r, item) if e.action != "evidence.report"]
    assert {e.action for e in about} >= {"review.reveal", "review.decision", "bank.add"}
    printed = set(HEX64.findall(text))
    assert {e.row_hash for e in about} <= printed
    # ... and they are the hashes of the chain `consentry audit verify` checks
    assert run_cli("audit", "verify").code == 0
    assert set(_docs_script(run_cli, tmp_path).values()) == {"ok"}
    listed = {row["id"]: row["hash"] for row in run_cli("audit", "list", "--json", "--limit", "1000").lines}
    head_id = max(e.id for e in about)
    for e in about:
        assert listed[e.id] == e.row_hash
    head_hash = re.search(r"Head row hash\s+([0-9a-f]{64})", text).group(1)  # type: ignore[union-attr]
    assert listed[head_id] == head_hash
    # the report is in the log itself, with its SHA-256
    (issued,) = [e for e in _rows_about(r, item) if e.action == "evidence.report"]
    assert issued.details["pdf_sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert issued.details["head"] == head_id and issued.details["thumbnail"] is False
    # no media in it: no image drawn, no image object at all
    assert _images(pdf) == [] and b"/Subtype /Image" not in pdf.read_bytes()
    # an edited audit row: verify names it, and it is a row the report lists
    decision = next(e for e in about if e.action == "review.decision")
    with r.db.session() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == decision.id)
                        .values(details={**decision.details, "decision": "reject"}))
    broken = run_cli("audit", "verify")
    assert broken.code == 1 and f"row {decision.id}" in broken.stderr
    assert f"row {decision.id} ·" in text
    # the third party's own script in docs/evidence.md finds it too
    checked = _docs_script(run_cli, tmp_path)
    assert checked[decision.id] == "DOES NOT MATCH"
    assert all(v == "ok" for k, v in checked.items() if k != decision.id)
    # an editor who also rewrites every hash after it gets a chain that verifies again, but
    # its hashes are no longer the ones the report printed
    with r.db.session() as session:
        _rechain(session)
        assert audit.verify(session).ok
    relisted = {row["id"]: row["hash"] for row in run_cli("audit", "list", "--json", "--limit", "1000").lines}
    assert relisted[decision.id] != decision.row_hash and relisted[decision.id] not in printed
    assert relisted[head_id] != head_hash


def _docs_script(run_cli, tmp_path: Path) -> dict[int, str]:  # type: ignore[no-untyped-def]
    """Run the check_chain.py of docs/evidence.md over the whole log: {row id: verdict}."""
    import sys

    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "evidence.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(# check_chain.py.*?)```", doc, re.S).group(1)  # type: ignore[union-attr]
    script, rows = tmp_path / "check_chain.py", tmp_path / "rows.jsonl"
    script.write_text(code, encoding="utf-8")
    listed = run_cli("audit", "list", "--json", "--after", "0", "--limit", "1000")
    rows.write_text(listed.stdout, encoding="utf-8")
    out = subprocess.run([sys.executable, str(script), str(rows)], capture_output=True, text=True, check=True)
    lines = [line.split(" ", 2) for line in out.stdout.splitlines()]
    return {int(n): verdict for n, _hash, verdict in lines}


def _rechain(session) -> None:  # type: ignore[no-untyped-def]
    """What someone who edited a row would do to hide it: recompute every row's hashes."""
    prev = None
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        entry.content_digest, entry.row_hash = audit.chain_values(
            prev, entry.id, entry.at, entry.actor, entry.action, entry.subject, dict(entry.details or {}))
        entry.prev_hash, prev = prev, entry.row_hash


@needs_poppler
def test_the_cli_report_and_a_thumbnail_only_when_asked(confirmed, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    r, item, rev = confirmed
    pdf, page = tmp_path / "e.pdf", tmp_path / "e.html"
    made = run_cli("report", "evidence", str(item), "-o", str(pdf), "--html", str(page), "--json")
    assert made.code == 0, made.stderr
    (out,) = made.lines
    assert out["pdf"] == str(pdf) and out["chain_ok"] is True and out["thumbnail"] is False
    html = page.read_text(encoding="utf-8")
    assert "<img" not in html and "<script" not in html
    assert _images(pdf) == []
    # a hostile file name (a scanned item keeps its path): inert in the HTML, plain text in the PDF
    hostile = scan_into_review(r, r.api(), 52, HOSTILE)
    named_pdf, named_html = tmp_path / "named.pdf", tmp_path / "named.html"
    made = run_cli("report", "evidence", str(hostile), "-o", str(named_pdf), "--html", str(named_html))
    assert made.code == 0, made.stderr
    shown = named_html.read_text(encoding="utf-8")
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "<img src=x onerror=alert(1)>" in " ".join(_pdf_text(named_pdf).split())
    with r.db.session() as session:
        issued = audit.rows(session, action="evidence.report", subject=f"item:{item}")[-1]
    assert issued.details["pdf_sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert issued.details["html_sha256"] == hashlib.sha256(html.encode()).hexdigest()
    # a thumbnail needs the kept media: refused with a clear reason while retention is off here
    refused = run_cli("report", "evidence", str(item), "-o", str(tmp_path / "t.pdf"), "--thumbnail")
    assert refused.code == 2 and "retention is off" in refused.stderr
    env = {**os.environ, "CONSENTRY_REVIEW_MEDIA": "1",
           "CONSENTRY_REVIEW_MEDIA_KEY": base64.b64encode(r.review.media_key).decode(),  # type: ignore[arg-type]
           "CONSENTRY_REVIEW_MEDIA_DIR": str(r.review.media_dir)}
    thumb = tmp_path / "t.pdf"
    assert run_cli("report", "evidence", str(item), "-o", str(thumb), "--thumbnail", env=env).code == 0
    (image,) = _images(thumb)
    width, height, colour = int(image[3]), int(image[4]), image[5]
    assert colour == "gray" and max(width, height) <= 160
    # the UI's thumbnail: reviewers only; the same one image
    shown = _download(rev, item, format="pdf", thumbnail="1")
    assert shown.status_code == 200
    (tmp_path / "u.pdf").write_bytes(shown.content)
    assert len(_images(tmp_path / "u.pdf")) == 1
    operator = sign_in(r, "op")
    assert _download(operator, item, format="pdf", thumbnail="1").status_code == 403
    plain = _download(operator, item, format="html")
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/html")
    assert "<img" not in plain.text and "Audit rows about this item" in plain.text
    assert _download(operator, 9999, format="pdf").status_code == 404
    assert _download(operator, item, format="docx").status_code == 400


def test_a_missing_item_is_a_clear_error(run_cli) -> None:  # type: ignore[no-untyped-def]
    missing = run_cli("report", "evidence", "424242")
    assert missing.code == 2 and "no item 424242" in missing.stderr
