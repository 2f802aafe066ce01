"""The tamper-evident audit log: every row's hash covers the previous row's; ``consentry
audit verify`` exits non-zero naming the first row edited, deleted or inserted; a person's
removal (which rewrites their rows on purpose) still verifies, as redacted."""

from __future__ import annotations

import json

from sqlalchemy import text

from consentry.match.banks import service as banks
from consentry.store import audit
from consentry.store.db import open_database
from consentry.store.erasure import forget_person, new_pseudonym, subject_of


def _some_rows(db) -> None:  # type: ignore[no-untyped-def]
    for name in ("A", "B", "C", "D"):
        banks.create(db, name, "ncii", "tester")


def test_chain_verifies_and_names_the_first_bad_row(db_url: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    db = open_database(db_url)
    _some_rows(db)
    ok = run_cli("--json", "audit", "verify", db=db.url)
    assert ok.code == 0 and ok.lines[0]["ok"] and ok.lines[0]["rows"] == 4
    listed = run_cli("--json", "audit", "list", db=db.url).lines
    assert [r["subject"] for r in listed] == ["A", "B", "C", "D"]
    assert all(len(r["hash"]) == 64 for r in listed)
    ids = [r["id"] for r in listed]

    with db.engine.begin() as conn:  # edit a detail of the second row
        conn.execute(text("UPDATE audit_log SET subject = 'Z' WHERE id = :i"), {"i": ids[1]})
    bad = run_cli("audit", "verify", db=db.url)
    assert bad.code == 1 and f"row {ids[1]}" in bad.stderr
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET subject = 'B' WHERE id = :i"), {"i": ids[1]})
    assert run_cli("audit", "verify", db=db.url).code == 0

    with db.engine.begin() as conn:  # delete the third: the fourth's link breaks
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": ids[2]})
    bad = run_cli("--json", "audit", "verify", db=db.url)
    assert bad.code == 1 and bad.lines[0]["bad_row"] == ids[3]
    db.close()


def test_inserted_and_rehashed_rows_are_caught(db_url: str) -> None:
    db = open_database(db_url)
    _some_rows(db)
    with db.session() as session:
        last = audit.rows(session)[-1]
    with db.engine.begin() as conn:  # a forged row with a plausible hash of its own
        forged = conn.execute(text("INSERT INTO audit_log (at, actor, action, subject, details) VALUES "
                                   "(:at, 'x', 'bank.delete', 'A', :d) RETURNING id"),
                              {"at": last.at, "d": json.dumps({})}).scalar_one()
        digest, row_hash = audit.chain_values(last.row_hash, forged, last.at, "x", "bank.delete", "A", {})
        conn.execute(text("UPDATE audit_log SET content_digest = :cd, prev_hash = :p, row_hash = :h "
                          "WHERE id = :id"), {"cd": digest, "p": last.row_hash, "h": row_hash, "id": forged})
    with db.session() as session:  # appended at the end, it is consistent: a forger with write
        assert audit.verify(session).ok  # access can extend the chain; later rows then expose it
    banks.create(db, "E", "ncii", "tester")
    with db.session() as session:
        assert audit.verify(session).ok  # the new row chains onto the forged one...
    with db.engine.begin() as conn:  # ...so removing the forgery afterwards is caught
        conn.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": forged})
    with db.session() as session:
        result = audit.verify(session)
        newest = audit.rows(session)[-1].entry_id
    assert not result.ok and result.bad_row == newest
    db.close()


def test_person_removal_verifies_as_redacted(db_url: str) -> None:
    db = open_database(db_url)
    with db.session() as session:
        audit.record(session, "op", "likeness.enrol", subject_of(41), name="Some Person", photos=2)
        audit.record(session, "op", "bank.create", "X")
    pseudonym = new_pseudonym()
    with db.session() as session:
        forget_person(session, 41, pseudonym)
        audit.record(session, "op", "likeness.remove", subject_of(pseudonym))
    with db.session() as session:
        result = audit.verify(session)
        rows = audit.rows(session)
    assert result.ok and result.redacted == 1, result
    assert "Some Person" not in json.dumps([r.as_json() for r in rows])
    # the same rewrite without a recorded removal is tampering
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET subject = 'person:removed-forged' "
                          "WHERE action = 'bank.create'"))
    with db.session() as session:
        assert not audit.verify(session).ok
    db.close()
