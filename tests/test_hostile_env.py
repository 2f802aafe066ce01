"""What a scan leaves behind and how it fails: nothing outside the data folder, no
telemetry, and an internal error is exit 2 with one line (never 1, "something flagged")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from consentry.testing.samples import astronaut, synthetic_scene, write_video


def _env(home: Path, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("XDG_") and k not in ("CONSENTRY_DB", "CONSENTRY_DEBUG")}
    return env | {"HOME": str(home), "TMPDIR": str(tmp)}


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def test_a_scan_writes_only_in_the_data_folder(tmp_path: Path) -> None:
    """Every installed signal runs (models load) with HOME and TMPDIR pointed at empty
    folders; afterwards the only files are in the data folder (the default database)."""
    media = tmp_path / "media"
    media.mkdir()
    astronaut().save(media / "photo.jpg", quality=90)
    synthetic_scene(1).save(media / "shapes.png")
    write_video(media / "clip.mp4", frames=30)
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    proc = subprocess.run([sys.executable, "-m", "consentry", "scan", "--json", str(media)],
                          env=_env(home, tmp), cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    written = _files(home)
    data = ".local/share/consentry/"
    assert written and all(f.startswith(data) for f in written), written
    assert f"{data}consentry.db" in written
    assert _files(tmp) == []
    assert _files(media) == ["clip.mp4", "photo.jpg", "shapes.png"]  # nothing beside the media


def test_importing_onnxruntime_after_consentry_writes_nothing(tmp_path: Path) -> None:
    """onnxruntime writes a device id and a telemetry store under ~/.cache/Microsoft when
    imported; Consentry's package sets ORT_DISABLE_TELEMETRY first."""
    home = tmp_path / "home"
    home.mkdir()
    code = "import consentry, onnxruntime; onnxruntime.InferenceSession"
    proc = subprocess.run([sys.executable, "-c", code], env=_env(home, tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert _files(home) == []


def _boom(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real entry point with one extra command whose code has a bug."""
    (tmp_path / "boom_cmd.py").write_text(
        "import click\n\n@click.command('boom')\ndef command():\n    return 1 / 0\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from consentry.cli import main as m; "
            "m.COMMANDS['boom'] = 'boom_cmd'; sys.argv = ['consentry', *sys.argv[2:]]; m.main()")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-c", code, str(tmp_path), *args], capture_output=True,
                          text=True, timeout=60, env=_env(home, tmp_path))


def test_an_internal_error_exits_2_with_one_line_and_a_logged_traceback(tmp_path: Path) -> None:
    proc = _boom(tmp_path, "boom")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "internal error (ZeroDivisionError" in proc.stderr
    logs = list((tmp_path / "home" / ".local/share/consentry/logs").glob("error-*.log"))
    assert len(logs) == 1 and "ZeroDivisionError" in logs[0].read_text()
    assert str(logs[0]) in proc.stderr


def test_debug_prints_the_traceback(tmp_path: Path) -> None:
    proc = _boom(tmp_path, "--debug", "boom")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "1 / 0" in proc.stderr
