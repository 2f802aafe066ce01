"""One schema for SQLite and PostgreSQL, through SQLAlchemy 2 and Alembic migrations."""

from consentry.store.db import Database, open_database

__all__ = ["Database", "open_database"]
