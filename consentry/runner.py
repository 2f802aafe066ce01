"""Run the analyser over many paths, in worker processes, so that one bad file never stops
a batch: a decoder that crashes its process is reported for that item and the pool restarts.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as futures_wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import threadpoolctl

from consentry.media.walk import walk
from consentry.pipeline import Analyser
from consentry.settings import ScanSettings
from consentry.signals.base import Signal
from consentry.types import ItemReport

_worker: Analyser | None = None
# How long the next report may keep the caller waiting before ``on_wait`` runs.
WAIT_BEFORE_ON_WAIT_S = 0.25


def _init_worker(settings: ScanSettings, signal_classes: list[type[Signal]]) -> None:
    global _worker
    # One process per core already: BLAS threads in each would only fight over the cores.
    threadpoolctl.threadpool_limits(1)
    _worker = Analyser(settings, signal_classes)


def _analyse_in_worker(path: Path) -> ItemReport:
    assert _worker is not None
    return _worker.analyse(path)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def analyse_paths(
    paths: list[Path],
    settings: ScanSettings,
    signal_classes: list[type[Signal]],
    workers: int,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[ItemReport]:
    """Walk ``paths`` and analyse every file. Walk problems (missing paths, loops, pipes) come
    back first as failed reports, then a report per file in walk order. ``on_wait`` runs
    when the next report keeps the caller waiting (a moment to flush what came before)."""
    readable: list[Path] = []
    for entry in walk(paths):
        if entry.problem is None:
            readable.append(entry.path)
        else:
            report = ItemReport(path=entry.path)
            report.fail(entry.problem_code or "unreadable", entry.problem)
            yield report
    yield from analyse_all(readable, settings, signal_classes, workers, on_wait)


def analyse_all(
    paths: Iterable[Path],
    settings: ScanSettings,
    signal_classes: list[type[Signal]],
    workers: int,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[ItemReport]:
    """Yield a report per path, in input order."""
    if workers <= 1:
        analyser = Analyser(settings, signal_classes)
        for path in paths:
            yield analyser.analyse(path)
        return
    yield from _pooled(iter(paths), settings, signal_classes, workers, on_wait)


def _pooled(
    paths: Iterator[Path],
    settings: ScanSettings,
    signal_classes: list[type[Signal]],
    workers: int,
    on_wait: Callable[[], None] | None,
) -> Iterator[ItemReport]:
    ctx = multiprocessing.get_context("fork")
    window = workers * 4
    pending: deque[tuple[Path, Future[ItemReport]]] = deque()
    retry: deque[Path] = deque()  # in flight when a worker died: run again, one at a time

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(settings, signal_classes))

    pool = new_pool()
    try:
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                try:
                    path = next(paths)
                except StopIteration:
                    exhausted = True
                    break
                pending.append((path, pool.submit(_analyse_in_worker, path)))
            if not pending:
                break
            path, future = pending.popleft()
            if on_wait is not None and not futures_wait([future], timeout=WAIT_BEFORE_ON_WAIT_S).done:
                on_wait()
            try:
                yield future.result()
            except BrokenProcessPool:
                retry.append(path)
                retry.extend(p for p, _ in pending)
                pending.clear()
                pool.shutdown(cancel_futures=True)
                yield from _isolate(retry, pool_factory=new_pool)
                pool = new_pool()
    finally:
        pool.shutdown(cancel_futures=True)


def _isolate(paths: deque[Path], pool_factory) -> Iterator[ItemReport]:  # type: ignore[no-untyped-def]
    """Re-run items one by one so that only the one that crashes is blamed."""
    while paths:
        path = paths.popleft()
        pool = pool_factory()
        try:
            yield pool.submit(_analyse_in_worker, path).result()
        except BrokenProcessPool:
            report = ItemReport(path=path)
            report.fail("decoder_crash", "the decoder crashed on this file (corrupt or hostile)")
            yield report
        finally:
            pool.shutdown(cancel_futures=True)
