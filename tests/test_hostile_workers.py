"""The worker watchdog and memory cap: an item that hangs or grows without bound fails
alone, with a clear error, and the batch goes on."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from consentry.pipeline.runner import analyse_paths
from consentry.pipeline.workers import WorkerPool
from consentry.settings import Limits, ScanSettings
from consentry.signals.base import FrameConsumer, ItemContext, Signal
from consentry.signals.hashes import HashSignal
from consentry.testing.hostile import png_bomb
from consentry.testing.samples import synthetic_scene
from consentry.types import Frame, ItemStatus, SignalResult


class HangingSignal(Signal):
    """Stands in for a decoder stuck inside one frame (it never returns)."""

    name = "hang-test"
    version = "1"

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        if "stuck" in ctx.path.name:
            while True:
                time.sleep(60)
        return self.result({})

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        raise NotImplementedError


def _images(folder: Path, names: list[str]) -> list[Path]:
    paths = []
    for i, name in enumerate(names):
        synthetic_scene(i, (120, 90)).save(folder / name)
        paths.append(folder / name)
    return paths


def _settings(**limits: object) -> ScanSettings:
    return replace(ScanSettings(), limits=Limits(**limits))  # type: ignore[arg-type]


def test_a_stuck_item_is_killed_and_reported_the_batch_goes_on(tmp_path: Path) -> None:
    paths = _images(tmp_path, ["a.png", "stuck.png", "b.png", "c.png", "stuck-2.png", "d.png"])
    reports = list(analyse_paths(paths, _settings(max_item_s=2.0),
                                 [HashSignal, HangingSignal], workers=2))
    assert [r.path for r in reports] == paths
    codes = {r.path.name: r.error_code for r in reports}
    assert codes == {"a.png": None, "stuck.png": "timeout", "b.png": None, "c.png": None,
                     "stuck-2.png": "timeout", "d.png": None}
    stuck = next(r for r in reports if r.path.name == "stuck.png")
    assert "longer than 2 s" in (stuck.error or "")


def test_a_fifo_given_to_a_worker_does_not_hang_it(tmp_path: Path) -> None:
    """The pool does not walk: a FIFO reaching a worker (swapped in after the walk) is
    refused without blocking, and the next item is done by the same worker."""
    import os

    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    after = _images(tmp_path, ["after.png"])[0]
    pool = WorkerPool([fifo, after], _settings(max_item_s=30.0), [HashSignal], workers=1)
    reports = list(pool.reports())
    assert [r.error_code for r in reports] == ["not_regular", None]


def test_worker_memory_is_capped(tmp_path: Path) -> None:
    """A PNG declaring 40000x40000 pixels, let past the pixel limit, needs 4.8 GB to decode:
    under a 1 GiB cap it fails alone with a memory error instead."""
    bomb = png_bomb(tmp_path / "bomb.png")
    good = _images(tmp_path, ["good.png"])[0]
    settings = _settings(max_pixels=2_000_000_000, max_worker_memory=1024**3)
    reports = list(analyse_paths([bomb, good], settings, [HashSignal], workers=2))
    assert reports[0].status is ItemStatus.ERROR
    assert reports[0].error_code == "limit_exceeded" and "memory" in (reports[0].error or "")
    assert reports[1].status is ItemStatus.OK


class SlowSignal(Signal):
    """Each item takes a second: slow, never stuck."""

    name = "slow-test"
    version = "1"

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        time.sleep(1.0)
        return self.result({})

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        raise NotImplementedError


def test_queued_items_are_not_timed_while_they_wait(tmp_path: Path) -> None:
    """A worker holds many items at the start; each is timed from when the worker can have
    begun it, not from when it was queued: six one-second items under a 3 s limit all pass
    (timed from the queue, the fourth would have waited past it)."""
    paths = _images(tmp_path, [f"{i}.png" for i in range(6)])
    reports = list(WorkerPool(paths, _settings(max_item_s=3.0), [SlowSignal], workers=1).reports())
    assert [r.error_code for r in reports] == [None] * 6
