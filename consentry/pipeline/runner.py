"""Run the analyser over many paths, in worker processes (consentry.pipeline.workers), so that one bad
file never stops a batch: a decoder that crashes its process is reported for that item.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from consentry.media.walk import walk
from consentry.pipeline.analysis import Analyser
from consentry.pipeline.workers import WorkerPool
from consentry.settings import ScanSettings
from consentry.signals import catalog as registry
from consentry.signals.base import Signal
from consentry.types import ItemReport


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


class Analysis:
    """The analysis of every file under ``paths``, started at construction: the walk runs
    and the worker processes fork and begin at once, so the caller can open the database
    and load indexes meanwhile. ``reports`` yields walk problems (missing paths, loops,
    pipes) first as failed reports, then a report per file in walk order."""

    def __init__(self, paths: Iterable[Path], settings: ScanSettings, workers: int,
                 signal_classes: list[type[Signal]] | None = None) -> None:
        self.settings = settings
        self.paths = list(paths)
        self.signal_classes = signal_classes or registry.resolve(settings.signals)
        self.problems: list[ItemReport] = []
        self.files: list[Path] = []
        for entry in walk(self.paths):
            if entry.problem is None:
                self.files.append(entry.path)
            else:
                report = ItemReport(path=entry.path)
                report.fail(entry.problem_code or "unreadable", entry.problem)
                self.problems.append(report)
        # Every file goes to a worker process, even with one worker: a hostile file must not
        # crash the main process, and only a worker has the watchdog and the memory cap.
        # workers=0 analyses in this process (debugging: tracebacks, no fork).
        self._pool = (WorkerPool(self.files, settings, self.signal_classes,
                                 min(workers, len(self.files)))
                      if workers >= 1 and self.files else None)

    @property
    def total(self) -> int:
        """How many items ``reports`` will yield (known once the walk is done, at start)."""
        return len(self.problems) + len(self.files)

    def reports(self, on_wait: Callable[[], None] | None = None) -> Iterator[ItemReport]:
        """``on_wait`` runs when the next report keeps the caller waiting (a moment to
        store what came before)."""
        yield from self.problems
        if self._pool is not None:
            yield from self._pool.reports(on_wait)
        else:
            analyser = Analyser(self.settings, self.signal_classes)
            for path in self.files:
                yield analyser.analyse(path)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def analyse_paths(
    paths: list[Path],
    settings: ScanSettings,
    signal_classes: list[type[Signal]],
    workers: int,
) -> Iterator[ItemReport]:
    """Walk ``paths`` and analyse every file (see ``Analysis``)."""
    analysis = Analysis(paths, settings, workers, signal_classes)
    try:
        yield from analysis.reports()
    finally:
        analysis.close()
