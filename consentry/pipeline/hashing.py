"""Hashing paths with the scan's own analysis and only the ``hash`` signal: what victim-side
hashing (``consentry hash``) and ``bank add FILE`` run, with no database and no network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from consentry.pipeline.runner import analyse_paths
from consentry.settings import ScanSettings
from consentry.signals import catalog
from consentry.signals.options import HashOptions
from consentry.types import ItemReport


def hash_paths(paths: list[Path], *, video_fps: float | None = 1.0, workers: int = 1
               ) -> Iterator[ItemReport]:
    """Reports with only the ``hash`` signal run (walk problems come back as failed reports)."""
    options = HashOptions(video_fps=video_fps or 1.0, every_frame=video_fps is None)
    settings = ScanSettings(signals=("hash",), options=(options,))
    yield from analyse_paths(paths, settings, catalog.resolve(("hash",)), workers)
