"""The Ray actor of the Ray engine (consentry.pipeline.ray_engine): one Analyser per Ray worker
process, its models loaded once, answering the driver's units of work and, on a thread of its
own, how long its work has been idle."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from consentry.pipeline.analysis import Analyser, is_video
from consentry.pipeline.segments import SplitPlan, plan_split, run_task
from consentry.settings import ScanSettings
from consentry.signals.base import Signal
from consentry.types import ItemReport


class AnalyserActor:
    """One Analyser in one Ray worker process (wrapped with ``ray.remote`` at run time). Its
    ``idle_for`` runs on a thread of its own (concurrency group ``beat``), so the driver can
    ask a busy actor whether its work is still moving."""

    def __init__(self, settings: ScanSettings, signal_classes: list[type[Signal]]) -> None:
        import threadpoolctl

        threadpoolctl.threadpool_limits(1)  # one actor per CPU: no BLAS threads fighting
        self.settings, self.signal_classes = settings, signal_classes
        self.analyser = Analyser(settings, signal_classes)
        # a beat is a timestamp here, not a message: every frame
        self.analyser.on_progress, self.analyser.progress_every_s = self._beat, 0.0
        self._progress_at = time.monotonic()

    def _beat(self) -> None:
        self._progress_at = time.monotonic()

    def pid(self) -> int:
        return os.getpid()

    def idle_for(self) -> float:
        """Seconds since the work in hand last made progress (a frame decoded, a unit begun)."""
        return time.monotonic() - self._progress_at

    def analyse(self, path: bytes) -> ItemReport | SplitPlan:
        """The file's report; for a video that ``--segments`` splits, its ``SplitPlan``
        instead, whose tasks the driver spreads over the actors (an actor never waits on
        other actors: with every CPU held by an actor, nested tasks would never start)."""
        self._beat()
        file = Path(os.fsdecode(path))
        if self.settings.segments > 1 and is_video(file):
            split_plan = plan_split(file, self.settings, self.signal_classes,
                                    self.settings.segments)
            if split_plan is not None:
                return split_plan
        return self.analyser.analyse_whole(file)

    def analyse_whole(self, path: bytes) -> ItemReport:
        self._beat()
        return self.analyser.analyse_whole(Path(os.fsdecode(path)))

    def run_task(self, task: tuple[Any, ...]) -> Any:
        """One task of a SplitPlan (a segment, or the signals that do not split)."""
        self._beat()
        return run_task(task, self._beat)
