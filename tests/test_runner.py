"""A decoder that kills its worker process blames only the item that caused it."""

from __future__ import annotations

import faulthandler
import os
from pathlib import Path

from consentry.runner import analyse_all
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

    reports = list(analyse_all(paths, ScanSettings(), [HashSignal, CrashingSignal], workers=2))

    assert [r.path for r in reports] == paths  # every item, in input order
    by_name = {r.path.name: r for r in reports}
    assert by_name["hostile.png"].status is ItemStatus.ERROR
    assert by_name["hostile.png"].error_code == "decoder_crash"
    for name in ("a.png", "b.png", "c.png", "d.png", "e.png"):
        assert by_name[name].status is ItemStatus.OK, by_name[name].error
        assert "pdq" in by_name[name].results["hash"].fields
