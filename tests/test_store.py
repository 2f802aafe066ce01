"""Opening a database: migrations run when needed, and only then."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from consentry.store.db import MIGRATIONS_DIR, schema_heads


def test_schema_heads_agree_with_alembic() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert schema_heads() == set(ScriptDirectory.from_config(cfg).get_heads())
    assert len(schema_heads()) >= 3  # one branch per stage (core, banks, likeness, verdicts)


def _open_in_fresh_process(url: str) -> str:
    code = ("import sys; from consentry.store.db import open_database; open_database(sys.argv[1]);"
            "print('alembic' in sys.modules)")
    return subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_current_database_opens_without_running_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert _open_in_fresh_process(url) == "True"  # new database: migrated
    assert _open_in_fresh_process(url) == "False"  # already current: not even imported
