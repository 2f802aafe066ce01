"""Policies end to end: the CLI, --policy on scan, exit codes, and verdicts in the store."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import select

from consentry.policy.engine import RulesPolicy
from consentry.policy.loader import parse
from consentry.store import scans as scan_store
from consentry.store.db import open_database
from consentry.store.tables.core import Scan
from consentry.store.tables.verdicts import Verdict, record_verdicts
from consentry.types import ItemReport, MediaKind, SignalResult

UNSIGNED_REVIEW = """\
version = 1
name = "unsigned"

[[rule]]
id = "unsigned"
action = "review"
priority = "low"
message = "No Content Credentials"
when = { c2pa_state = ["absent"] }
"""


def test_policy_check_rejects_with_line_and_exit_2(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(UNSIGNED_REVIEW.replace("c2pa_state =", "c2pa_stat ="))
    result = run_cli("policy", "check", str(bad))
    assert result.code == 2
    assert "line 9:" in result.stderr and "unknown signal condition 'c2pa_stat'" in result.stderr
    result = run_cli("--json", "policy", "check", str(bad))
    assert result.code == 2 and "line 9:" in result.lines[0]["error"]


def test_policy_check_prints_the_rules(run_cli, tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(UNSIGNED_REVIEW)
    result = run_cli("policy", "check", str(good), "--json")
    assert result.code == 0, result.stderr
    [spec] = result.lines
    assert spec["name"] == "unsigned" and spec["rules"][0]["when"] == {"c2pa_state": ["absent"]}
    text = run_cli("policy", "check", str(good))
    assert text.code == 0 and "unsigned" in text.stdout and "review (low)" in text.stdout


def test_policy_show_prints_the_default(run_cli) -> None:
    shown = run_cli("policy", "show", "--toml")
    assert shown.code == 0
    assert parse(shown.stdout, source="x").rules == RulesPolicy.from_file().spec.rules
    assert tomllib.loads(shown.stdout)["name"] == "default"
    listed = run_cli("policy", "show", "--json")
    assert listed.lines[0]["rules"][0]["id"] == "ncii-match"


def test_scan_refuses_a_bad_policy_before_any_work(run_cli, tmp_path: Path, sqlite_url: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(UNSIGNED_REVIEW.replace('priority = "low"', 'priority = "urgent"'))
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(image)
    result = run_cli("scan", str(image), "--signals", "hash", "--policy", str(bad))
    assert result.code == 2 and "line 7:" in result.stderr and "urgent" in result.stderr
    db = open_database(sqlite_url)
    with db.session() as session:
        assert session.scalars(select(Scan)).all() == []


def test_review_verdict_sets_exit_1_and_is_stored(run_cli, tmp_path: Path, sqlite_url: str) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(UNSIGNED_REVIEW)
    image = tmp_path / "shapes.png"
    rgb = np.full((160, 200, 3), 230, np.uint8)
    rgb[40:120, 30:90] = (200, 30, 30)
    Image.fromarray(rgb).save(image)
    report = tmp_path / "r.html"
    result = run_cli("scan", str(image), "--signals", "provenance", "--policy", str(policy), "--json",
                     "--report", str(report))
    assert result.code == 1, result.stderr
    verdict = result.lines[0]["verdict"]
    assert (verdict["action"], verdict["priority"]) == ("review", "low")
    assert verdict["reasons"][0]["message"] == "No Content Credentials: C2PA manifest is absent"
    assert "REVIEW · priority low" in report.read_text()
    db = open_database(sqlite_url)
    with db.session() as session:
        row = session.scalars(select(Verdict)).one()
        assert (row.action, row.priority, row.policy) == ("review", "low", verdict["policy"])
        assert row.reasons[0]["code"] == "unsigned"
        assert session.scalars(select(Scan)).one().settings["policy"] == verdict["policy"]
    # a person at a terminal sees the action, its priority and the reason
    shown = run_cli("scan", str(image), "--signals", "provenance", "--policy", str(policy))
    assert shown.code == 1
    seen = shown.stdout  # one unwrapped line per flagged item
    assert "review (low priority)" in seen and "No Content Credentials: C2PA manifest is absent" in seen
    # the default policy does not flag a neutral image with no findings
    result = run_cli("scan", str(image), "--signals", "hash", "--json")
    assert result.code == 0 and result.lines[0]["verdict"]["action"] == "allow"


def test_verdict_table_on_sqlite_and_postgresql(db_url: str) -> None:
    db = open_database(db_url)
    policy = RulesPolicy.from_file()
    report = ItemReport(path=Path("x.jpg"), kind=MediaKind.IMAGE)
    report.results["hash"] = SignalResult("hash", "1", {"pdq": {"hash": "0" * 64, "quality": 90}})
    report.fields["matches"] = [{"bank": "b", "kind": "ncii", "signal": "pdq", "hash": "0" * 64,
                                 "distance": 0}]
    with db.session() as session:
        scan_id = scan_store.start_scan(session, {})
        scan_store.insert_items(session, scan_id, [report])
        policy.decide(report)
        record_verdicts(session, [report])
        scan_store.finish_items(session, [report])
    with db.session() as session:
        row = session.scalars(select(Verdict).where(Verdict.action == "block")).one()
        assert row.item_id == report.item_id and row.labels == ["known-ncii"]
        assert row.reasons[0]["evidence"]["matches"][0]["kind"] == "ncii"
    db.close()


def test_default_policy_with_real_banks_blocks_ncii_and_allow_overrides(run_cli, tmp_path: Path,
                                                                         sqlite_url: str) -> None:
    """The real bank matcher, the hash signal and the default policy, end to end."""
    from consentry.testing.samples import synthetic_scene

    media = tmp_path / "media"
    media.mkdir()
    synthetic_scene(11).save(media / "known.png")
    synthetic_scene(12).save(media / "other.png")
    assert run_cli("bank", "create", "helpline", "--kind", "ncii").code == 0
    added = run_cli("bank", "add", "helpline", str(media / "known.png"), "--case", "c-1")
    assert added.code == 0, added.stderr
    result = run_cli("scan", str(media), "--signals", "hash", "--json")
    assert result.code == 1, result.stderr
    by_name = {Path(line["path"]).name: line["verdict"] for line in result.lines}
    known = by_name["known.png"]
    assert known["action"] == "block" and known["reasons"][0]["code"] == "ncii-match"
    assert "helpline" in known["reasons"][0]["message"]
    assert known["reasons"][0]["evidence"]["matches"][0]["case_id"] == "c-1"
    assert by_name["other.png"]["action"] == "allow"
    # the same picture in an allow bank overrides the NCII bank
    assert run_cli("bank", "create", "benign", "--kind", "allow").code == 0
    assert run_cli("bank", "add", "benign", str(media / "known.png")).code == 0
    result = run_cli("scan", str(media / "known.png"), "--signals", "hash", "--json")
    assert result.code == 0, result.stderr
    verdict = result.lines[0]["verdict"]
    assert verdict["action"] == "allow" and verdict["overridden"] == [
        {"code": "ncii-match", "by": "allow-match"}]
