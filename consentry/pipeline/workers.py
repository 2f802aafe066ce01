"""Worker processes that analyse items, each over its own pipe.

Why not ``concurrent.futures``: its per-task machinery (a management thread, futures, a
feeder thread) cost the main process about 1.5 ms an item, a sixth of what hashing a JPEG
costs, and when a worker dies it fails every task in flight, so each had to be re-run alone
to find the culprit. Here each worker holds a few items (``PREFETCH``; more at the start)
and handles them in order, so when one dies the item it was on is known: that item is
reported as a decoder crash, the others it held go back to the queue, and a fresh worker
takes its place.

The same bookkeeping makes the watchdog: the main process knows since when each worker has
been on the item at the head of its queue, and a worker still on one item after
``Limits.max_item_s`` without a sign of progress (a FIFO, a decoder stuck inside one frame)
is killed; that item is reported as ``timeout`` and the batch goes on. A video that keeps
decoding says so about once a second (``_ALIVE``), so a two-hour video is not taken for a
stuck one; its own decode budget (consentry.media.video) bounds it instead. Each worker's
address space is capped (``Limits.max_worker_memory``, RLIMIT_AS) so one huge image fails
alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import resource
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path

import threadpoolctl

from consentry.errors import WorkerStartError
from consentry.media import image as image_media
from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals.base import Signal
from consentry.types import ItemReport

PREFETCH = 2  # items queued per worker: one at work, one ready, so no worker waits on us
START_PREFETCH = 32
_READY = "ready"
_ALIVE = "alive"  # the item at the head is still decoding, frame after frame
_PR_SET_PDEATHSIG = 1  # prctl(2)


def _die_with(parent: int) -> None:
    """Have the kernel kill this worker when the main process dies, even by SIGKILL (Linux);
    elsewhere the worker stops at its next answer, which nobody reads."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above
        os._exit(0)


def _cap_memory(limit: int) -> None:
    """Cap this process's address space at ``limit`` bytes (0: no cap). Allocations past it
    fail (MemoryError in Python, a failed malloc in a decoder) instead of swapping the
    machine."""
    if limit <= 0:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _worker_main(conn: Connection, settings: ScanSettings, signal_classes: list[type[Signal]],
                 parent: int, siblings: list[Connection]) -> None:
    _die_with(parent)
    _cap_memory(settings.limits.max_worker_memory)
    for sibling in siblings:  # the fork copied the main process's ends of the others' pipes
        sibling.close()
    # Ctrl-C is the main process's to handle: it stops the workers (no traceback from each).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One process per core already: BLAS threads in each would only fight over the cores.
    threadpoolctl.threadpool_limits(1)
    analyser = Analyser(settings, signal_classes)
    analyser.on_progress = lambda: conn.send(_ALIVE)
    conn.send(_READY)
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the main process is gone: nobody to answer
            return
        if task is None:
            return
        index, path = task
        report = analyser.analyse(path)
        try:
            conn.send((index, report))
        except OSError:  # the main process is gone
            return


class _Worker:
    def __init__(self, ctx: multiprocessing.context.BaseContext, settings: ScanSettings,
                 signal_classes: list[type[Signal]], siblings: list[Connection]) -> None:
        self.conn, child_conn = multiprocessing.Pipe()
        self.process: BaseProcess = ctx.Process(  # type: ignore[attr-defined]
            target=_worker_main,
            args=(child_conn, settings, signal_classes, os.getpid(), siblings), daemon=True)
        self.process.start()
        child_conn.close()
        self.ready = False
        self.held: deque[tuple[int, Path]] = deque()  # sent, not yet answered, in order
        # Since when the worker has been on ``held[0]``, as far as this process can tell
        # (no earlier than it was sent, the worker was ready, and the one before answered):
        # never earlier than the truth, so the watchdog can only be late, never early.
        self.head_since: float | None = None

    def note_head(self) -> None:
        self.head_since = time.monotonic() if self.held and self.ready else None

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # already gone
            self.conn.send(None)
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class WorkerPool:
    """Analyse paths in ``workers`` forked processes; reports come back in input order.

    The processes start at construction, so the caller can do other set-up (open the
    database) while they begin on the first items.
    """

    def __init__(self, paths: Iterable[Path], settings: ScanSettings,
                 signal_classes: list[type[Signal]], workers: int) -> None:
        self._ctx = multiprocessing.get_context("fork")
        image_media.load_decoders()
        self._settings, self._signal_classes = settings, signal_classes
        self._todo = enumerate(paths)
        self._requeued: deque[tuple[int, Path]] = deque()
        self._workers: list[_Worker] = []
        # The workers' garbage collector leaves what they inherit alone (no copy-on-write of
        # every page it would touch); this process collects as usual.
        gc.freeze()
        try:
            for _ in range(workers):
                self._workers.append(self._spawn())
        finally:
            gc.unfreeze()
        # Enough to keep the workers busy while the caller sets up (opening the database,
        # loading indexes: about half a second), when nobody is reading their answers yet.
        self._fill(START_PREFETCH)

    def _spawn(self) -> _Worker:
        siblings = [w.conn for w in self._workers]
        return _Worker(self._ctx, self._settings, self._signal_classes, siblings)

    def _next_task(self) -> tuple[int, Path] | None:
        if self._requeued:
            return self._requeued.popleft()
        return next(self._todo, None)

    def _fill(self, limit: int = PREFETCH) -> None:
        """Give each worker items, one at a time in turn, until each holds ``limit``."""
        while True:
            gave = False
            for slot, worker in enumerate(self._workers):
                if len(worker.held) >= limit or (task := self._next_task()) is None:
                    continue
                try:
                    worker.conn.send(task)
                except OSError:  # it died while idle: none of our items was on it
                    self._requeued.appendleft(task)
                    worker.stop()
                    self._workers[slot] = self._spawn()
                    gave = True
                    continue
                worker.held.append(task)
                if len(worker.held) == 1:
                    worker.note_head()
                gave = True
            if not gave:
                return

    def reports(self, on_wait: Callable[[], None] | None = None,
                wait_before_on_wait: float = 0.25) -> Iterator[ItemReport]:
        """Yield every report in input order. ``on_wait`` runs when the next one keeps the
        caller waiting longer than ``wait_before_on_wait`` seconds."""
        done: dict[int, ItemReport] = {}
        next_index = 0
        try:
            while True:
                if next_index in done:
                    yield done.pop(next_index)
                    next_index += 1
                    continue
                if not any(w.held for w in self._workers):
                    return
                heard = self._receive(done, timeout=wait_before_on_wait if on_wait else None)
                if not heard and on_wait is not None:
                    on_wait()
        finally:
            self.close()

    def _receive(self, done: dict[int, ItemReport], timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds for answers (or deaths) from the workers; whether
        any came."""
        waiting = {w.conn: w for w in self._workers if w.held}
        deaths = {w.process.sentinel: w for w in waiting.values()}
        overdue = self._until_overdue()
        if overdue is not None:
            timeout = overdue if timeout is None else min(timeout, overdue)
        ready = wait([*waiting, *deaths], timeout=timeout)
        for handle in ready:
            worker = waiting.get(handle) or deaths[handle]  # type: ignore[index]
            if worker in self._workers:
                self._drain(worker, done)
        killed = self._kill_overdue(done)
        self._fill()
        return bool(ready) or killed

    # -- the watchdog ---------------------------------------------------------------------

    def _until_overdue(self) -> float | None:
        """Seconds until the first worker's current item runs past the limit (None: no
        limit, or nothing running)."""
        limit = self._settings.limits.max_item_s
        starts = [w.head_since for w in self._workers if w.held and w.head_since is not None]
        if limit <= 0 or not starts:
            return None
        return max(0.0, min(starts) + limit - time.monotonic())

    def _kill_overdue(self, done: dict[int, ItemReport]) -> bool:
        limit = self._settings.limits.max_item_s
        if limit <= 0:
            return False
        now = time.monotonic()
        killed = False
        for worker in list(self._workers):
            if not worker.held or worker.head_since is None or now - worker.head_since < limit:
                continue
            self._drain(worker, done)  # an answer may have come just now
            if worker not in self._workers or not worker.held or worker.head_since is None:
                continue
            if time.monotonic() - worker.head_since < limit:
                continue
            index, path = worker.held.popleft()
            report = ItemReport(path=path)
            report.fail("timeout", f"analysis took longer than {limit:g} s without progress "
                        "and was stopped (a stuck decoder or a file that never ends; raise "
                        "--max-item-seconds to allow)")
            done[index] = report
            self._replace(worker)
            killed = True
        return killed

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker``, queue the items it still held again, start a fresh one."""
        self._requeued.extendleft(reversed(worker.held))
        worker.held.clear()
        worker.kill()
        self._workers[self._workers.index(worker)] = self._spawn()

    def _drain(self, worker: _Worker, done: dict[int, ItemReport]) -> None:
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if message == _READY:
                    worker.ready = True
                    worker.note_head()
                    continue
                if message == _ALIVE:  # progress: the watchdog's clock starts again
                    worker.note_head()
                    continue
                index, report = message
                worker.held.popleft()
                worker.note_head()
                done[index] = report
        except (EOFError, OSError):
            pass
        if worker.held and not worker.process.is_alive():
            self._blame_and_replace(worker, done)

    def _blame_and_replace(self, worker: _Worker, done: dict[int, ItemReport]) -> None:
        """The worker died on the first item it held (it works in order): report that one,
        queue the others again, start a fresh worker."""
        if not worker.ready:
            raise WorkerStartError(
                f"a worker process died while starting, before any item (exit code "
                f"{worker.process.exitcode}); run with --workers 0 (in this process) to see why, or raise "
                "--max-worker-memory")
        index, path = worker.held.popleft()
        report = ItemReport(path=path)
        report.fail("decoder_crash", "the decoder crashed on this file (corrupt or hostile, or "
                    "over the worker memory cap)")
        done[index] = report
        self._replace(worker)

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers = []
