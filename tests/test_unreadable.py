"""A file the scanner may not read is reported as unreadable; the batch goes on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from consentry.testing.samples import synthetic_scene


def _without_read_override() -> list[str]:
    """Root ignores file modes; drop the capabilities that let it (needs util-linux setpriv)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    synthetic_scene(5).save(secret, quality=90)
    secret.chmod(0)
    ok = tmp_path / "ok.png"
    synthetic_scene(6).save(ok)
    cmd = [*_without_read_override(), sys.executable, "-m", "consentry",
           "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "scan", "--json", "--workers", "1",
           str(secret), str(ok)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    by_name = {Path(x["path"]).name: x for x in map(json.loads, proc.stdout.splitlines())}
    assert proc.returncode == 3, proc.stderr
    assert by_name["secret.jpg"]["status"] == "error"
    assert by_name["secret.jpg"]["error_code"] == "unreadable"
    assert "permission denied" in by_name["secret.jpg"]["error"].lower()
    assert by_name["ok.png"]["status"] == "ok"
