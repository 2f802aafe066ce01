"""Open a database by URL, migrate it to the current schema, hand out sessions."""

from __future__ import annotations

import logging
import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from consentry.errors import ConfigError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# The newest migration: a database stamped with it is current and opens without importing
# Alembic (~0.2 s). tests/test_store.py checks it against Alembic's own view of the chain.
SCHEMA_HEAD = "0011_cases"
# Until 0005 the stages' migrations branched off 0001_core, so a database could be stamped
# with any of these (several rows). They only create tables and skip the tables that exist,
# so such a database is restamped 0001_core and walks the linear chain (see _restamp_legacy).
LEGACY_BRANCH_HEADS = frozenset({"0002_banks", "0003_likeness", "0004_verdicts"})
# pg_advisory_lock key that serialises migrations of one PostgreSQL database ("cons").
PG_MIGRATION_LOCK = 0x636F6E73


def normalise_url(url: str) -> str:
    """Accept the URLs people type (postgresql://, postgres://) and pick our drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Database:
    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def sqlite_path(self) -> Path | None:
        """The database file of a file-backed SQLite database."""
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(url.database)
        return None

    @property
    def sidecar_dir(self) -> Path:
        """Where indexes that live beside the database are kept (banks, likeness)."""
        if (path := self.sqlite_path) is not None:
            return path.with_name(path.name + ".indexes")
        import platformdirs

        url = make_url(self.url)
        key = f"{url.host or 'local'}-{url.port or ''}-{url.database or ''}".replace("/", "_")
        return Path(platformdirs.user_data_dir("consentry", appauthor=False)) / "indexes" / key

    def flush_deleted(self) -> None:
        """Make deleted rows leave the files now: SQLite zeroes freed content
        (``secure_delete``) in the write-ahead log, so the log is checkpointed into the
        database file and truncated. PostgreSQL keeps dead rows until VACUUM reuses their
        space (docs/faces.md says what that means for removal)."""
        if self.sqlite_path is None:
            return
        with self.engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        if busy and busy[0]:
            log.warning("another process is reading %s: deleted data leaves its write-ahead log "
                        "at the next checkpoint", self.sqlite_path)

    def close(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Open (and migrate) the database at ``url``. A SQLite file may be new, but its folder
    must exist: a typo in ``--db`` must not silently start an empty database."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"not a database URL: {url!r} ({exc})") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            if not folder.is_dir() and folder == _default_folder():
                folder.mkdir(parents=True, exist_ok=True)  # the user data folder is ours
            if not folder.is_dir():
                raise ConfigError(f"cannot open database {parsed.render_as_string()}: the folder "
                                  f"{folder} does not exist (create it, or check the URL)")
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    elif backend == "postgresql":
        engine = create_engine(url, pool_pre_ping=True)
    else:
        raise ConfigError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    db = Database(url, engine)
    if migrate:
        try:
            upgrade(db)
        except Exception as exc:
            engine.dispose()
            raise ConfigError(f"cannot open database {parsed.render_as_string()}: {exc}") from exc
    return db


def _default_folder() -> Path:
    """The folder of the default database (only asked when a folder is missing)."""
    from consentry.settings import default_db_url

    return Path(make_url(default_db_url()).database or "").parent


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted content is overwritten, not left in free pages: `person remove` must not leave
    # a name or a face descriptor readable in the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def alembic_config(db: Database):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    cfg.attributes["engine"] = db.engine
    return cfg


def upgrade(db: Database) -> None:
    """Migrate to the newest schema. Alembic (~0.2 s to import) runs only when needed, and
    one process at a time: several scans started at once on a new database all wait for
    the first to create the schema."""
    if current_revisions(db) == {SCHEMA_HEAD}:
        return
    with _migration_lock(db):
        current = current_revisions(db)
        if current == {SCHEMA_HEAD}:
            return  # another process migrated while we waited
        if unknown := current - known_revisions():
            raise ConfigError(f"the database was migrated by a newer Consentry (schema "
                              f"{', '.join(sorted(unknown))}; this one knows up to {SCHEMA_HEAD}): "
                              "upgrade Consentry to use it")
        _restamp_legacy(db, current)
        from alembic import command

        command.upgrade(alembic_config(db), "head")


@contextmanager
def _migration_lock(db: Database) -> Iterator[None]:
    """A file lock beside a SQLite file, an advisory lock on PostgreSQL."""
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_MIGRATION_LOCK})
                conn.commit()
        return
    path = db.sqlite_path
    if path is None:  # in memory: one process by definition
        yield
        return
    import fcntl

    # Never deleted: removing it would let two processes lock two different files.
    with open(path.with_name(path.name + ".migrate-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def known_revisions() -> set[str]:
    """Every revision this version ships (each migration file is named after its revision)."""
    return {path.stem for path in (MIGRATIONS_DIR / "versions").glob("*.py")}


def _restamp_legacy(db: Database, current: set[str]) -> None:
    """A database migrated when 0002-0004 were branches is stamped with some of them (one
    row each, in any combination, as they were added in the order 0003, 0004, 0002).
    Stamp it ``0001_core``: the linear chain then runs 0002-0004, each creating only the
    tables that are missing, and goes on from there."""
    if not current or not current <= LEGACY_BRANCH_HEADS:
        return
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0001_core')"))


def current_revisions(db: Database) -> set[str]:
    """The revisions the database is stamped with (empty for a new database)."""
    try:
        with db.engine.connect() as conn:
            return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except DBAPIError:
        return set()  # no version table yet: a new database


def current_actor() -> str:
    """The operating-system account running this process, for audit records. Read from the
    effective uid, never from LOGNAME/USER, which anyone can set to any name."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        return f"uid:{uid}"
