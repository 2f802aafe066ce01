"""A decoder that kills its worker process blames only the item that caused it."""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consentry.errors import WorkerStartError
from consentry.pipeline.runner import analyse_paths
from consentry.settings import ScanSettings
from consentry.signals.base import FrameConsumer, ItemContext, Signal
from consentry.signals.hashes import HashSignal
from consentry.testing.samples import synthetic_scene, write_video
from consentry.types import Frame, ItemStatus, SignalResult


class CrashingSignal(Signal):
    """Stands in for a native decoder that segfaults on one hostile file."""

    name = "crash-test"
    version = "1"

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        if "hostile" in ctx.path.name:
            faulthandler.disable()  # keep pytest's crash dump out of the output
            os.abort()
        return self.result({})

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        raise NotImplementedError


def test_worker_crash_is_reported_for_that_item_only(tmp_path: Path) -> None:
    paths = []
    for i, name in enumerate(["a.png", "b.png", "hostile.png", "c.png", "d.png", "e.png"]):
        synthetic_scene(i, (200, 150)).save(tmp_path / name)
        paths.append(tmp_path / name)

    reports = list(analyse_paths(paths, ScanSettings(), [HashSignal, CrashingSignal], workers=2))

    assert [r.path for r in reports] == paths  # every item, in input order
    by_name = {r.path.name: r for r in reports}
    assert by_name["hostile.png"].status is ItemStatus.ERROR
    assert by_name["hostile.png"].error_code == "decoder_crash"
    for name in ("a.png", "b.png", "c.png", "d.png", "e.png"):
        assert by_name[name].status is ItemStatus.OK, by_name[name].error
        assert "pdq" in by_name[name].results["hash"].fields


def test_two_crashes_in_a_row_each_blame_their_own_item(tmp_path: Path) -> None:
    names = ["a.png", "hostile-1.png", "hostile-2.png", "b.png", "c.png"]
    paths = []
    for i, name in enumerate(names):
        synthetic_scene(i, (120, 90)).save(tmp_path / name)
        paths.append(tmp_path / name)

    reports = list(analyse_paths(paths, ScanSettings(), [HashSignal, CrashingSignal], workers=2))

    assert [r.path for r in reports] == paths
    codes = {r.path.name: r.error_code for r in reports}
    assert codes == {"a.png": None, "hostile-1.png": "decoder_crash", "hostile-2.png": "decoder_crash",
                     "b.png": None, "c.png": None}


class BuggySignal(Signal):
    """A signal with a bug (a Python exception, not a SignalError) on one item."""

    name = "buggy"
    version = "1"

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        if "odd" in ctx.path.name:
            raise ZeroDivisionError("division by zero")
        return self.result({})

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        raise NotImplementedError


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_a_bug_on_one_item_is_reported_and_the_batch_goes_on(tmp_path: Path, workers: int) -> None:
    paths = []
    for i, name in enumerate(["a.png", "odd.png", "b.png"]):
        synthetic_scene(i, (120, 90)).save(tmp_path / name)
        paths.append(tmp_path / name)

    reports = list(analyse_paths(paths, ScanSettings(), [HashSignal, BuggySignal], workers=workers))

    assert [r.status for r in reports] == [ItemStatus.OK, ItemStatus.ERROR, ItemStatus.OK]
    assert reports[1].error_code == "internal_error"
    assert "ZeroDivisionError" in (reports[1].error or "")


class DiesAtStartSignal(CrashingSignal):
    name = "dies-at-start"

    def setup(self, settings: ScanSettings) -> None:
        faulthandler.disable()
        os.abort()


def test_a_worker_that_cannot_start_stops_the_scan_with_a_clear_error(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        synthetic_scene(i, (120, 90)).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")

    with pytest.raises(WorkerStartError, match="died while starting"):
        list(analyse_paths(paths, ScanSettings(), [HashSignal, DiesAtStartSignal], workers=2))


@pytest.fixture(scope="module")
def busy_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two long clips: hashed at every frame they keep both workers busy for a while."""
    folder = tmp_path_factory.mktemp("busy")
    for i in range(2):
        write_video(folder / f"clip-{i}.mp4", frames=1500, seed=i)
    return folder


def _start_scan(folder: Path, db: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Start `consentry scan` in its own process group; return it and its two workers."""
    cmd = [sys.executable, "-m", "consentry", "--db", f"sqlite:///{db}", "scan", "--signals",
           "hash", "--every-frame", "--workers", "2", "--json", str(folder)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    workers: list[int] = []
    deadline = time.monotonic() + 30
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        workers = [int(pid) for pid in children.read_text().split()]
    assert len(workers) == 2, "the workers never started"
    return proc, workers


def _alive(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def test_workers_do_not_outlive_a_killed_scan(busy_folder: Path, tmp_path: Path) -> None:
    """A scan killed outright (SIGKILL: no clean-up runs) takes its workers with it."""
    proc, workers = _start_scan(busy_folder, tmp_path / "db.sqlite")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert not _alive(workers)


def test_ctrl_c_stops_the_scan_and_its_workers_with_exit_130(busy_folder: Path,
                                                             tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it): the scan says
    "Aborted!", exits 130 (never 1, which means "something flagged"), and leaves no worker."""
    proc, workers = _start_scan(busy_folder, tmp_path / "db.sqlite")
    time.sleep(0.3)  # let the main process reach the scan loop
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Aborted!" in stderr.decode() and "Traceback" not in stderr.decode()
    assert not _alive(workers)
