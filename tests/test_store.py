"""Opening a database: one linear chain of migrations, run when needed and only then, one
process at a time; databases stamped when the migrations branched upgrade cleanly."""

from __future__ import annotations

import itertools
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from consentry.errors import ConfigError
from consentry.store.db import (
    LEGACY_BRANCH_HEADS,
    MIGRATIONS_DIR,
    SCHEMA_HEAD,
    alembic_config,
    current_actor,
    current_revisions,
    known_revisions,
    open_database,
)
from consentry.store.tables import metadata


def _script() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg)


def test_one_linear_chain_ending_at_schema_head() -> None:
    script = _script()
    assert script.get_heads() == [SCHEMA_HEAD]
    chain = list(script.walk_revisions())  # head first
    assert [r.revision for r in chain][-4:] == ["0004_verdicts", "0003_likeness", "0002_banks",
                                                "0001_core"]
    for newer, older in itertools.pairwise(chain):
        assert newer.down_revision == older.revision  # no branches, no merges
    assert chain[-1].down_revision is None
    assert {r.revision for r in chain} == known_revisions()  # files are named after revisions


def test_the_migrated_schema_is_the_tables_schema(db_url: str) -> None:
    """A column or index added to store/tables/ without its migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = open_database(db_url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
        assert "item_hashes" not in inspect(db.engine).get_table_names()
    finally:
        db.close()


def _open_in_fresh_process(url: str) -> str:
    code = ("import sys; from consentry.store.db import open_database; open_database(sys.argv[1]);"
            "print('alembic' in sys.modules)")
    return subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_current_database_opens_without_running_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert _open_in_fresh_process(url) == "True"  # new database: migrated
    assert _open_in_fresh_process(url) == "False"  # already current: not even imported


def _legacy_database(url: str, stamps: set[str], drop: tuple[str, ...] = ()) -> None:
    """A database as the branching migrations left it: the tables of 0001-0004 (minus those
    of branches it never ran), stamped with one row per branch head it ran."""
    db = open_database(url, migrate=False)
    try:
        command.upgrade(alembic_config(db), "0004_verdicts")
        with db.engine.begin() as conn:
            for table in drop:
                conn.execute(text(f"DROP TABLE {table}"))
            conn.execute(text("DELETE FROM alembic_version"))
            for stamp in sorted(stamps):
                conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                             {"v": stamp})
            conn.execute(text("INSERT INTO likeness_persons (name, created_at, created_by) "
                              "VALUES ('Old Name', CURRENT_TIMESTAMP, 'op')"))
            conn.execute(text(
                "INSERT INTO likeness_consents (person_id, attestation, recorded_at, recorded_by, "
                "review_date) VALUES (1, 'signed form, in person', CURRENT_TIMESTAMP, 'op', "
                "'2030-01-01')"))
            conn.execute(text(
                "INSERT INTO audit_log (at, actor, action, subject, details) VALUES "
                "(CURRENT_TIMESTAMP, 'op', 'likeness.enrol', 'person:1', "
                "'{\"name\": \"Old Name\", \"consent\": \"signed form\", \"photos\": 1}')"))
    finally:
        db.close()


def test_database_stamped_with_the_old_four_heads_upgrades(db_url: str) -> None:
    _legacy_database(db_url, set(LEGACY_BRANCH_HEADS))
    db = open_database(db_url)
    try:
        assert current_revisions(db) == {SCHEMA_HEAD}
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM likeness_persons")).scalar_one() == "Old Name"
            assert conn.execute(text("SELECT method FROM likeness_consents")).scalar_one() == \
                "unrecorded"
            details = conn.execute(text("SELECT details FROM audit_log")).scalar_one()
        assert "Old Name" not in str(details) and "photos" in str(details)  # no name in the audit
        assert set(inspect(db.engine).get_table_names()) - {"alembic_version"} == set(metadata.tables)
    finally:
        db.close()


def test_database_that_never_ran_the_banks_branch_upgrades(sqlite_url: str) -> None:
    # 0003 and 0004 were written before 0002: such a database has no bank tables.
    _legacy_database(sqlite_url, {"0003_likeness", "0004_verdicts"},
                     drop=("bank_matches", "bank_withdrawals", "bank_entries", "banks"))
    db = open_database(sqlite_url)
    try:
        assert current_revisions(db) == {SCHEMA_HEAD}
        assert {"banks", "bank_entries", "verdicts"} <= set(inspect(db.engine).get_table_names())
    finally:
        db.close()


def test_person_removed_before_removal_forgot_is_forgotten_by_the_upgrade(sqlite_url: str) -> None:
    _legacy_database(sqlite_url, set(LEGACY_BRANCH_HEADS))
    db = open_database(sqlite_url, migrate=False)
    hit = {"person": 7, "name": "Gone Person", "track": 0, "distance": 0.3, "frames": [0]}
    result = {"likeness": [hit], "verdict": {"reasons": [
        {"code": "r", "message": "likeness of protected person 7", "evidence": {"likeness": [hit]}}]}}
    try:
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO scans (started_at, settings, consentry_version, n_items, "
                              "n_errors, n_flagged) VALUES (CURRENT_TIMESTAMP, '{}', '0', 1, 0, 0)"))
            conn.execute(text("INSERT INTO items (scan_id, path, status, result, flagged, created_at)"
                              " VALUES (1, 'x.mp4', 'ok', :r, 1, CURRENT_TIMESTAMP)"),
                         {"r": json.dumps(result)})
            for action, details in (("likeness.enrol", {"name": "Gone Person", "photos": 1}),
                                    ("likeness.match", {"item_id": 1, "track": 0}),
                                    ("likeness.remove", {"embeddings_deleted": 1})):
                conn.execute(text("INSERT INTO audit_log (at, actor, action, subject, details) "
                                  "VALUES (CURRENT_TIMESTAMP, 'op', :a, 'person:7', :d)"),
                             {"a": action, "d": json.dumps(details)})
    finally:
        db.close()
    db = open_database(sqlite_url)
    try:
        with db.engine.connect() as conn:
            stored = conn.execute(text("SELECT result FROM items")).scalar_one()
            subjects = conn.execute(text("SELECT subject, details FROM audit_log WHERE subject != "
                                         "'person:1' ORDER BY id")).all()
        assert "Gone Person" not in str(stored) + str(subjects)
        pseudonyms = {subject for subject, _ in subjects}
        assert len(pseudonyms) == 1 and pseudonyms.pop().startswith("person:removed-")
        assert "protected person removed-" in str(stored) and "person 7" not in str(stored)
    finally:
        db.close()


def test_database_of_a_newer_version_is_refused_clearly(sqlite_url: str) -> None:
    open_database(sqlite_url).close()
    db = open_database(sqlite_url, migrate=False)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    db.close()
    with pytest.raises(ConfigError, match="newer Consentry"):
        open_database(sqlite_url)


def test_db_url_whose_folder_does_not_exist_is_an_error(tmp_path: Path, run_cli) -> None:
    missing = tmp_path / "no-such-folder" / "x.db"
    with pytest.raises(ConfigError, match="does not exist"):
        open_database(f"sqlite:///{missing}")
    result = run_cli("scans", "list", db=f"sqlite:///{missing}")
    assert result.code == 2 and "no-such-folder" in result.stderr
    assert not missing.parent.exists()


def test_default_database_folder_is_created(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    env.pop("CONSENTRY_DB", None)
    proc = subprocess.run([sys.executable, "-m", "consentry", "scans", "list", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "data" / "consentry" / "consentry.db").is_file()


def test_concurrent_opens_of_a_new_database_all_succeed(db_url: str) -> None:
    code = "import sys; from consentry.store.db import open_database; open_database(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    db = open_database(db_url)
    try:
        assert current_revisions(db) == {SCHEMA_HEAD}
    finally:
        db.close()


def test_several_scans_started_at_once_on_a_new_database_all_succeed(
        db_url: str, tmp_path: Path) -> None:
    from consentry.testing.samples import synthetic_scene

    photo = tmp_path / "a.png"
    synthetic_scene(1).save(photo)
    cmd = [sys.executable, "-m", "consentry", "--db", db_url, "scan", "--json", "--signals", "hash",
           "--workers", "1", str(photo)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outputs]
    assert all(json.loads(out.splitlines()[0])["status"] == "ok" for out, _ in outputs)
    listed = subprocess.run([sys.executable, "-m", "consentry", "--db", db_url, "scans", "list",
                             "--json"], capture_output=True, text=True, timeout=120, check=True)
    assert sorted(json.loads(line)["n_items"] for line in listed.stdout.splitlines()) == [1] * 4


def test_audit_actor_is_the_os_account_not_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "someone-else")
    monkeypatch.setenv("USER", "someone-else")
    assert current_actor() == pwd.getpwuid(os.geteuid()).pw_name


def test_sqlite_overwrites_deleted_content(sqlite_url: str) -> None:
    db = open_database(sqlite_url)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        db.close()
