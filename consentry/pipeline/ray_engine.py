"""The analysis as Ray actors: each actor holds one Analyser (models loaded once per actor, not
per item) and analyses the files it is sent; matching, policy and storage stay in the main
process, in its database transactions (consentry.pipeline.decision), as with the local engine.

An actor that dies (its machine lost, its process killed, a decoder crashing it) is replaced
and the items it held are sent again; an item that was at the head of two dying actors is
reported as ``decoder_crash``, as the local pool does. An item still running after
``Limits.max_item_s`` has its actor killed and is reported as ``timeout``. Ray is an optional
extra (``pip install 'consentry[ray]'``); nothing here imports it until an engine is made.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consentry.errors import ConfigError
from consentry.media.walk import walk
from consentry.pipeline.analysis import Analyser
from consentry.pipeline.runner import Analysis, default_workers
from consentry.settings import ScanSettings
from consentry.signals.base import Signal
from consentry.types import ItemReport

PREFETCH = 2  # items queued per actor: one at work, one on its way
MAX_DEATHS = 2  # an item that was on this many dying actors is the culprit


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("the Ray engine needs Ray: pip install 'consentry[ray]'") from exc
    return ray


def _notices_to_stderr() -> None:
    """Ray prints the cluster's error notices ("a worker died...") on the driver's stdout,
    which is our JSON Lines stream: send them to stderr. Ray has no setting for it, so its
    printing function is wrapped (left alone if a Ray version lacks it)."""
    import ray._private.worker as ray_worker

    original = getattr(ray_worker, "print_to_stdstream", None)
    if original is None or getattr(original, "_consentry", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        original({**data, "is_err": True}, ignore_prefix)

    to_stderr._consentry = True  # type: ignore[attr-defined]
    ray_worker.print_to_stdstream = to_stderr


def _actor_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """What a task raises when its actor is gone (the names differ between Ray versions)."""
    names = ("RayActorError", "WorkerCrashedError", "ActorUnavailableError", "ActorDiedError")
    return tuple(getattr(ray.exceptions, n) for n in names if hasattr(ray.exceptions, n))


class AnalyserActor:
    """One Analyser in one Ray worker process (wrapped with ``ray.remote`` at run time)."""

    def __init__(self, settings: ScanSettings, signal_classes: list[type[Signal]]) -> None:
        import threadpoolctl

        from consentry.pipeline.segments import thread_map

        threadpoolctl.threadpool_limits(1)  # one actor per CPU: no BLAS threads fighting
        self.analyser = Analyser(settings, signal_classes)
        self.analyser.map_segments = thread_map  # --segments: an actor does not fork

    def pid(self) -> int:
        return os.getpid()

    def analyse(self, path: bytes) -> ItemReport:
        return self.analyser.analyse(Path(os.fsdecode(path)))


@dataclass
class _Slot:
    actor: Any
    held: deque[tuple[Any, int, Path]] = field(default_factory=deque)  # (ref, index, path)
    head_since: float = field(default_factory=time.monotonic)


class RayEngine:
    """Analyses files on ``actors`` Ray actors (default: one per CPU of the cluster). Joins
    the cluster at ``address``, or starts one on this machine when none is given and this
    process has not joined one already."""

    def __init__(self, settings: ScanSettings, signal_classes: list[type[Signal]], *,
                 address: str | None = None, actors: int | None = None) -> None:
        ray = _ray()
        _notices_to_stderr()
        self.settings, self.signal_classes = settings, signal_classes
        self._started_ray = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            else:
                ray.init(num_cpus=actors or default_workers(), include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
                self._started_ray = True
        n = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(num_cpus=1, max_restarts=0)(AnalyserActor)
        self._slots = [_Slot(self._spawn()) for _ in range(n)]

    def _spawn(self) -> Any:
        return self._remote.remote(self.settings, self.signal_classes)

    def actor_pids(self) -> list[int]:
        ray = _ray()
        return ray.get([slot.actor.pid.remote() for slot in self._slots])

    # -- the engine interface of consentry.pipeline.backfill.engine --------------------------

    def reports(self, paths: list[Path], on_wait: Callable[[], None]) -> Iterator[ItemReport]:
        """Walk problems first, then one report per file in input order."""
        files: list[Path] = []
        for entry in walk(paths):
            if entry.problem is None:
                files.append(entry.path)
            else:
                report = ItemReport(path=entry.path)
                report.fail(entry.problem_code or "unreadable", entry.problem)
                yield report
        yield from self.analyse_files(files, on_wait)

    def analyse_files(self, files: Iterable[Path],
                      on_wait: Callable[[], None] | None = None) -> Iterator[ItemReport]:
        ray = _ray()
        todo: deque[tuple[int, Path]] = deque(enumerate(files))
        done: dict[int, ItemReport] = {}
        deaths: dict[int, int] = {}
        next_index = 0
        while True:
            while next_index in done:
                yield done.pop(next_index)
                next_index += 1
            if not todo and not any(slot.held for slot in self._slots):
                return
            self._fill(todo)
            refs = {ref: slot for slot in self._slots for ref, _, _ in slot.held}
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.25)
            if not ready:
                if on_wait is not None:
                    on_wait()
                self._kill_overdue(done, todo)
                continue
            slot = refs[ready[0]]
            ref, index, path = slot.held[0]
            if ref != ready[0]:  # an answer out of order: take it where it is
                position = next(i for i, (r, _, _) in enumerate(slot.held) if r == ready[0])
                ref, index, path = slot.held[position]
                del slot.held[position]
            else:
                slot.held.popleft()
            try:
                done[index] = ray.get(ref)
                slot.head_since = time.monotonic()
            except _actor_errors(ray):
                self._actor_died(slot, (ref, index, path), done, todo, deaths)

    def _fill(self, todo: deque[tuple[int, Path]]) -> None:
        for slot in self._slots:
            while todo and len(slot.held) < PREFETCH:
                index, path = todo.popleft()
                if not slot.held:
                    slot.head_since = time.monotonic()
                slot.held.append((slot.actor.analyse.remote(os.fsencode(path)), index, path))

    def _actor_died(self, slot: _Slot, failed: tuple[Any, int, Path], done: dict[int, ItemReport],
                    todo: deque[tuple[int, Path]], deaths: dict[int, int]) -> None:
        """The actor died working on ``failed`` (it works in order, so that was its head):
        count a death against that item, send the others it held again, start a new actor."""
        _ref, index, path = failed
        deaths[index] = deaths.get(index, 0) + 1
        if deaths[index] >= MAX_DEATHS:
            report = ItemReport(path=path)
            report.fail("decoder_crash", "the analysis crashed on this file twice (corrupt or "
                        "hostile, or the worker ran out of memory)")
            done[index] = report
        else:
            todo.appendleft((index, path))
        todo.extendleft(reversed([(i, p) for _, i, p in slot.held]))
        slot.held.clear()
        self._replace(slot)

    def _kill_overdue(self, done: dict[int, ItemReport], todo: deque[tuple[int, Path]]) -> None:
        limit = self.settings.limits.max_item_s
        if limit <= 0:
            return
        for slot in self._slots:
            if not slot.held or time.monotonic() - slot.head_since < limit:
                continue
            _ref, index, path = slot.held.popleft()
            report = ItemReport(path=path)
            report.fail("timeout", f"analysis took longer than {limit:g} s and was stopped "
                        "(raise --max-item-seconds to allow)")
            done[index] = report
            todo.extendleft(reversed([(i, p) for _, i, p in slot.held]))
            slot.held.clear()
            self._replace(slot)

    def _replace(self, slot: _Slot) -> None:
        ray = _ray()
        with contextlib.suppress(Exception):  # already gone
            ray.kill(slot.actor, no_restart=True)
        slot.actor = self._spawn()
        slot.head_since = time.monotonic()

    def close(self) -> None:
        ray = _ray()
        for slot in self._slots:
            with contextlib.suppress(Exception):  # already gone
                ray.kill(slot.actor, no_restart=True)
        self._slots = []
        if self._started_ray:
            ray.shutdown()


class RayAnalysis(Analysis):
    """``Analysis`` (what ``Pipeline.scan`` takes) with the files analysed on Ray actors: the
    scan's decisions and storage are the local engine's own."""

    def __init__(self, paths: Iterable[Path], settings: ScanSettings,
                 signal_classes: list[type[Signal]], *, address: str | None = None,
                 actors: int | None = None) -> None:
        super().__init__(paths, settings, 1, signal_classes)  # walk only: no local workers
        self.engine = RayEngine(settings, self.signal_classes, address=address, actors=actors)

    def reports(self, on_wait: Callable[[], None] | None = None) -> Iterator[ItemReport]:
        yield from self.problems
        yield from self.engine.analyse_files(self.files, on_wait)

    def close(self) -> None:
        self.engine.close()


class ShardActor:
    """One shard of a sharded MIH index (consentry.signals.hashing.shards), held by a Ray
    actor: the memory of the shard lives on whichever machine Ray placed the actor."""

    def __init__(self, folder: str) -> None:
        from consentry.signals.hashing.mih import MIHIndex

        self.index = MIHIndex.load(Path(folder))

    def search(self, queries: Any, threshold: int | None) -> Any:
        return self.index.search(queries, threshold)


class RemoteShard:
    """The ``Shard`` a ``ShardedIndex`` queries, forwarding to a ``ShardActor``."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def search(self, queries: Any, threshold: int | None = None) -> Any:
        return _ray().get(self.actor.search.remote(queries, threshold))


def ray_sharded_index(folder: Path, *, memory_per_shard: int | None = None) -> Any:
    """A ``ShardedIndex`` saved in ``folder`` with each shard loaded on its own Ray actor
    (``memory_per_shard`` bytes reserved for each, so Ray spreads them over machines)."""
    from consentry.signals.hashing.shards import ShardedIndex

    ray = _ray()
    layout = ShardedIndex.layout(folder)
    options: dict[str, Any] = {"num_cpus": 1}
    if memory_per_shard:
        options["memory"] = memory_per_shard
    remote = ray.remote(**options)(ShardActor)
    shards = [RemoteShard(remote.remote(str(folder / f"shard-{i:03d}")))
              for i in range(layout["shards"])]
    return ShardedIndex(shards, layout["cut"], layout["bounds"], layout["threshold"])


def ray_map(fn: Callable[..., Any], tasks: Sequence[Any]) -> list[Any]:
    """``map`` over Ray tasks (one per item of ``tasks``), e.g. for the segments of a long video
    (consentry.pipeline.segments.analyse_split's ``map_fn``): results in order."""
    ray = _ray()
    remote = ray.remote(num_cpus=1)(fn)
    return ray.get([remote.remote(task) for task in tasks])
