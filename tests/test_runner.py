"""A decoder that kills its worker process blames only the item that caused it."""

from __future__ import annotations

import faulthandler
import os
from pathlib import Path

import pytest

from consentry.errors import WorkerStartError
from consentry.runner import analyse_paths
from consentry.settings import ScanSettings
from consentry.signals.base import FrameConsumer, ItemContext, Signal
from consentry.signals.hashes import HashSignal
from consentry.testing.samples import synthetic_scene
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


@pytest.mark.parametrize("workers", [1, 2])
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


def test_workers_do_not_outlive_a_killed_scan(tmp_path: Path) -> None:
    """A scan killed outright (SIGKILL: no clean-up runs) takes its workers with it."""
    import signal
    import subprocess
    import sys
    import time

    for i in range(200):
        synthetic_scene(i, (640, 480)).save(tmp_path / f"{i}.jpg", quality=90)
    cmd = [sys.executable, "-m", "consentry", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}",
           "scan", "--signals", "hash", "--workers", "2", "--json", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    workers: list[int] = []
    deadline = time.monotonic() + 30
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        workers = [int(pid) for pid in children.read_text().split()]
    assert len(workers) == 2, "the workers never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
