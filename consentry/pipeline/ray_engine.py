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
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consentry.errors import ConfigError
from consentry.media.walk import walk
from consentry.pipeline.ray_actor import AnalyserActor
from consentry.pipeline.runner import Analysis, default_workers
from consentry.pipeline.segments import NotSplittable, SplitPlan
from consentry.settings import ScanSettings
from consentry.signals.base import Signal
from consentry.types import ItemReport

PREFETCH = 2  # units queued per actor: one at work, one on its way
MAX_DEATHS = 2  # a unit that was on this many dying actors is the culprit
BEAT_TIMEOUT_S = 10.0  # an actor that cannot say within this whether it progresses is stuck

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class _Unit:
    """What one actor call does: a whole item (``part`` None; the actor may answer with a
    SplitPlan), one task of an item's SplitPlan, or an item analysed unsplit (``whole``)
    after its segments did not join."""

    index: int  # the item's place in input order
    path: Path
    part: int | None = None
    task: tuple[Any, ...] | None = None
    whole: bool = False

    @property
    def key(self) -> tuple[int, int | None]:
        return self.index, self.part


@dataclass
class _Split:
    plan: SplitPlan
    outputs: list[Any]
    remaining: int
    actors: set[int] = field(default_factory=set)  # slots that ran its tasks


@dataclass
class _Slot:
    actor: Any
    number: int
    held: deque[tuple[Any, _Unit]] = field(default_factory=deque)
    head_since: float = field(default_factory=time.monotonic)
    started: Any = None  # answered once the actor is up (its models loaded); then True

    def __post_init__(self) -> None:
        self.use(self.actor)

    def use(self, actor: Any) -> None:
        """Hold ``actor`` (new: it has not started yet)."""
        self.actor, self.started, self.head_since = actor, actor.pid.remote(), time.monotonic()

    def starting(self, ray: Any) -> bool:
        """Still loading: its start-up does not count against the unit it holds."""
        if self.started is not True and ray.wait([self.started], timeout=0)[0]:
            self.started = True
        return self.started is not True


class RayEngine:
    """Analyses files on ``actors`` Ray actors (default: one per CPU of the cluster, or that
    many divided by ``share`` when several drivers share it: an actor holds its CPU). Joins
    the cluster at ``address``, or starts one on this machine when none is given and this
    process has not joined one already. A video that ``--segments`` splits becomes one unit
    of work per segment, spread over the actors like any file, and is stitched here."""

    def __init__(self, settings: ScanSettings, signal_classes: list[type[Signal]], *,
                 address: str | None = None, actors: int | None = None, share: int = 1) -> None:
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
        n = actors or max(1, int(ray.cluster_resources().get("CPU", 1)) // share)
        self._remote = ray.remote(num_cpus=1, max_restarts=0,
                                  concurrency_groups={"beat": 1})(AnalyserActor)
        self._slots = [_Slot(self._spawn(), i) for i in range(n)]
        self._splits: dict[int, _Split] = {}

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
        todo: deque[_Unit] = deque(_Unit(i, path) for i, path in enumerate(files))
        done: dict[int, ItemReport] = {}
        deaths: dict[tuple[int, int | None], int] = {}
        next_index = 0
        while True:
            while next_index in done:
                yield done.pop(next_index)
                next_index += 1
            self._fill(todo, done)
            if not any(slot.held for slot in self._slots):
                return
            refs = {ref: slot for slot in self._slots for ref, _ in slot.held}
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.25)
            if not ready:
                if on_wait is not None:
                    on_wait()
                self._kill_overdue(done, todo)
                continue
            slot = refs[ready[0]]
            position = next(i for i, (r, _) in enumerate(slot.held) if r == ready[0])
            ref, unit = slot.held[position]
            try:
                value = ray.get(ref)
            except _actor_errors(ray):
                self._actor_died(slot, done, todo, deaths)
                continue
            del slot.held[position]
            slot.head_since = time.monotonic()
            self._take(unit, value, slot, done, todo)

    def _fill(self, todo: deque[_Unit], done: dict[int, ItemReport]) -> None:
        """Idle actors first, one unit each, then up to PREFETCH: the segments of one video
        go to different actors."""
        for depth in range(PREFETCH):
            for slot in self._slots:
                while todo and self._stale(todo[0], done):
                    todo.popleft()
                if not todo or len(slot.held) > depth:
                    continue
                unit = todo.popleft()
                if not slot.held:
                    slot.head_since = time.monotonic()
                slot.held.append((self._call(slot.actor, unit), unit))

    def _stale(self, unit: _Unit, done: dict[int, ItemReport]) -> bool:
        """The unit's item already failed, or it is a task of a split given up."""
        return unit.index in done or (unit.part is not None and unit.index not in self._splits)

    @staticmethod
    def _call(actor: Any, unit: _Unit) -> Any:
        if unit.part is not None:
            return actor.run_task.remote(unit.task)
        if unit.whole:
            return actor.analyse_whole.remote(os.fsencode(unit.path))
        return actor.analyse.remote(os.fsencode(unit.path))

    def _take(self, unit: _Unit, value: Any, slot: _Slot, done: dict[int, ItemReport],
              todo: deque[_Unit]) -> None:
        """Record what a unit returned: an item's report, a plan whose tasks go to the front
        of the queue, or one task's output (the item is stitched when its last one is in)."""
        if self._stale(unit, done):  # the item failed while this unit was running
            return
        if unit.part is None:
            if isinstance(value, SplitPlan):
                self._splits[unit.index] = _Split(value, [None] * len(value.tasks),
                                                  len(value.tasks))
                todo.extendleft(reversed([_Unit(unit.index, unit.path, part, task)
                                          for part, task in enumerate(value.tasks)]))
            else:
                done[unit.index] = value
            return
        split = self._splits[unit.index]
        if split.outputs[unit.part] is not None:
            return  # answered twice (sent again after its actor died): the first stands
        if isinstance(value, NotSplittable):
            self._unsplit(unit, todo)
            return
        split.outputs[unit.part] = value
        split.actors.add(slot.number)
        split.remaining -= 1
        if split.remaining:
            return
        del self._splits[unit.index]
        report = split.plan.stitch(split.outputs)
        if report is None:
            todo.appendleft(_Unit(unit.index, unit.path, whole=True))
            return
        log.info("%s: %d tasks on %d actors", unit.path, len(split.outputs), len(split.actors))
        done[unit.index] = report

    def _unsplit(self, unit: _Unit, todo: deque[_Unit]) -> None:
        """Give up the item's split (its other tasks' answers are ignored): analyse it whole."""
        self._splits.pop(unit.index, None)
        todo.appendleft(_Unit(unit.index, unit.path, whole=True))

    def _fail(self, unit: _Unit, code: str, message: str, done: dict[int, ItemReport]) -> None:
        self._splits.pop(unit.index, None)
        report = ItemReport(path=unit.path)
        report.fail(code, message)
        done[unit.index] = report

    def _actor_died(self, slot: _Slot, done: dict[int, ItemReport], todo: deque[_Unit],
                    deaths: dict[tuple[int, int | None], int]) -> None:
        """The actor died: the unit at the head of its queue was the one running (an actor
        works in order, whichever of its answers failed first). Count a death against that
        unit, send it and the others it held again, start a new actor."""
        _ref, failed = slot.held.popleft()
        deaths[failed.key] = deaths.get(failed.key, 0) + 1
        if deaths[failed.key] >= MAX_DEATHS:
            self._fail(failed, "decoder_crash", "the analysis crashed on this file twice "
                       "(corrupt or hostile, or the worker ran out of memory)", done)
        else:
            todo.appendleft(failed)
        self._requeue(slot, todo)

    def _kill_overdue(self, done: dict[int, ItemReport], todo: deque[_Unit]) -> None:
        """Stop a unit that made no progress for ``Limits.max_item_s``: a long video that
        keeps decoding tells its actor so about once a second, and the actor answers the
        driver's question on a thread of its own; one that cannot answer is stuck."""
        ray = _ray()
        limit = self.settings.limits.max_item_s
        if limit <= 0:
            return
        for slot in self._slots:
            if not slot.held or time.monotonic() - slot.head_since < limit:
                continue
            if slot.starting(ray):
                slot.head_since = time.monotonic()
                continue
            try:
                idle = ray.get(slot.actor.idle_for.options(concurrency_group="beat").remote(),
                               timeout=BEAT_TIMEOUT_S)
            except Exception:  # no answer: the actor is stuck or gone
                idle = limit
            if idle < limit:
                slot.head_since = time.monotonic() - idle
                continue
            _ref, unit = slot.held.popleft()
            self._fail(unit, "timeout", f"analysis made no progress for {limit:g} s and was "
                       "stopped (raise --max-item-seconds to allow)", done)
            self._requeue(slot, todo)

    def _requeue(self, slot: _Slot, todo: deque[_Unit]) -> None:
        """Send what ``slot`` still held again, at the front of the queue, on a new actor."""
        todo.extendleft(reversed([unit for _, unit in slot.held]))
        slot.held.clear()
        self._replace(slot)

    def _replace(self, slot: _Slot) -> None:
        ray = _ray()
        with contextlib.suppress(Exception):  # already gone
            ray.kill(slot.actor, no_restart=True)
        slot.use(self._spawn())

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
    scan's decisions and storage are the local engine's own. ``engine``: actors already
    running (a service's job worker keeps them across batches; closing this leaves them)."""

    def __init__(self, paths: Iterable[Path], settings: ScanSettings,
                 signal_classes: list[type[Signal]], *, address: str | None = None,
                 actors: int | None = None, engine: RayEngine | None = None) -> None:
        super().__init__(paths, settings, 1, signal_classes)  # walk only: no local workers
        self._owns_engine = engine is None
        self.engine = engine or RayEngine(settings, self.signal_classes, address=address,
                                          actors=actors)

    def reports(self, on_wait: Callable[[], None] | None = None) -> Iterator[ItemReport]:
        yield from self.problems
        yield from self.engine.analyse_files(self.files, on_wait)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.close()
