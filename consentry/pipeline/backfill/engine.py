"""Where a backfill's analysis runs: the engine takes a list of files and yields one report per
file (in any order); decisions and storage stay with the caller, in the main process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from consentry.pipeline.runner import Analysis
from consentry.settings import ScanSettings
from consentry.signals.base import Signal
from consentry.types import ItemReport


class Engine(Protocol):
    def reports(self, paths: list[Path], on_wait: Callable[[], None]) -> Iterator[ItemReport]: ...

    def close(self) -> None: ...


class LocalEngine:
    """The forked worker pool of consentry.pipeline.workers, one pool per chunk of files (so
    a chunk's watchdog, memory cap and crash handling are the scan's own)."""

    def __init__(self, settings: ScanSettings, signal_classes: list[type[Signal]],
                 workers: int) -> None:
        self.settings, self.signal_classes, self.workers = settings, signal_classes, workers

    def reports(self, paths: list[Path], on_wait: Callable[[], None]) -> Iterator[ItemReport]:
        analysis = Analysis(paths, self.settings, self.workers, self.signal_classes)
        try:
            yield from analysis.reports(on_wait)
        finally:
            analysis.close()

    def close(self) -> None:
        pass
