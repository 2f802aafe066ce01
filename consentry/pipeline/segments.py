"""A long video split into time segments analysed in parallel, stitched into one item that is
identical to the unsplit analysis.

What splits: signals whose per-frame work depends on the frame alone (``SPLITTABLE``: the
hash signal's vPDQ, sampled by frame number). Each segment seeks to the keyframe before its
first frame, decodes to its last, numbers frames as the whole decode does (frame =
round(pts x fps) from the stream's start, checked to be contiguous) and returns its frames'
hashes; the stitch concatenates them in frame order. What does not split (face tracks,
whose tracker carries state from frame to frame, and the detectors reading them) runs as one
more task over the whole video, in parallel with the segments. Anything unusual (a variable
frame rate, a decode error, a segment that does not meet its neighbour) falls back to the
unsplit analysis, so the result is always the unsplit one.
"""

from __future__ import annotations

import io
import itertools
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from consentry.media import video as video_media
from consentry.media.source import open_regular
from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals.base import ItemContext, Signal
from consentry.signals.hashes import VideoHashes
from consentry.types import ItemReport, ItemStatus, MediaInfo, MediaKind, SignalResult

SPLITTABLE = frozenset({"hash"})

MapFn = Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], Iterable[Any]]


class NotSplittable(Exception):
    """This video cannot be split exactly; analyse it whole."""


@dataclass(frozen=True)
class Segment:
    first: int  # frame numbers [first, end)
    end: int | None  # None: to the end of the video


@dataclass(frozen=True)
class SegmentResult:
    segment: Segment
    frames_seen: int  # frames decoded in [first, end)
    last_index: int
    results: dict[str, SignalResult]


def plan(info: MediaInfo, segments: int) -> list[Segment]:
    """``segments`` equal runs of frames (the last open-ended), from the probed duration."""
    if not info.fps or not info.duration or segments <= 1:
        return [Segment(0, None)]
    total = info.frame_count or math.floor(info.duration * info.fps)
    size = max(1, math.ceil(total / segments))
    bounds = list(range(0, total, size))
    return [Segment(first, bounds[i + 1] if i + 1 < len(bounds) else None)
            for i, first in enumerate(bounds)]


def analyse_segment(path: Path, segment: Segment, settings: ScanSettings,
                    signal_classes: list[type[Signal]],
                    progress: Callable[[], None] | None = None) -> SegmentResult:
    """Run the splittable signals on frames [first, end) of the video at ``path``;
    ``progress`` (cheap: it is called on every frame) tells a watchdog the work moves."""
    import av

    signals = [cls() for cls in signal_classes if cls.name in SPLITTABLE]
    for signal in signals:
        signal.setup(settings)
    with open_regular(path) as fh:
        from consentry.media.sniff import sniff

        sniffed = sniff(fh.read(64))
        if sniffed is None or sniffed.kind is not MediaKind.VIDEO:
            raise NotSplittable("not a video")
        with video_media.open_video(fh, sniffed.format, settings.limits) as (container, info):
            stream = container.streams.video[0]
            fps, time_base = info.fps, stream.time_base
            if not fps or time_base is None:
                raise NotSplittable("no frame rate")
            start_pts = stream.start_time or 0
            ctx = ItemContext(path, info, settings, {})
            consumers = [(s, s.video_consumer(ctx)) for s in signals]
            if segment.first > 0:
                target = start_pts + int(segment.first / fps / time_base)
                container.seek(target, stream=stream, backward=True, any_frame=False)
            seen, previous = 0, None
            budget = video_media.Budget(info, settings.limits, lambda i: any(
                c.wants(i, i / fps) for _s, c in consumers))
            try:
                for frame in container.decode(stream):
                    if frame.pts is None:
                        raise NotSplittable("a frame without a timestamp")
                    index = round(float((frame.pts - start_pts) * time_base) * fps)
                    if index < segment.first:
                        continue
                    if segment.end is not None and index >= segment.end:
                        break
                    if previous is None and index != segment.first:
                        raise NotSplittable(f"segment starts at frame {index}, not {segment.first}")
                    if previous is not None and index != previous + 1:
                        raise NotSplittable("frames are not evenly spaced (variable frame rate)")
                    previous = index
                    seen += 1
                    budget.check(index)  # the limits of the whole decode, per segment
                    if progress is not None:
                        progress()
                    shown = video_media.VideoFrame(index, index / fps, float(frame.time), frame)
                    for _signal, consumer in consumers:
                        if consumer.wants(index, shown.timestamp):
                            consumer.add(shown, {})
            except av.FFmpegError as exc:
                raise NotSplittable(f"decode error: {exc}") from exc
            results = {s.name: consumer.finish() for s, consumer in consumers}
    return SegmentResult(segment, seen, previous if previous is not None else -1, results)


def _whole(path: Path, settings: ScanSettings, signal_classes: list[type[Signal]],
           progress: Callable[[], None] | None = None) -> ItemReport:
    analyser = Analyser(settings, signal_classes)
    analyser.on_progress, analyser.progress_every_s = progress, 0.0
    return analyser.analyse(path)


def _probe(path: Path, settings: ScanSettings, digest: bool = True) -> ItemReport | None:
    """The report of a video before any frame is decoded (digest and probed stream), or None
    when the file is not a readable video (the unsplit analysis then says what it is).
    ``digest`` False: size and stream only (the whole-video task digests the file itself)."""
    import hashlib

    from consentry.errors import MediaError
    from consentry.media.sniff import sniff

    try:
        with open_regular(path) as fh:
            sniffed = sniff(fh.read(64))
            if sniffed is None or sniffed.kind is not MediaKind.VIDEO:
                return None
            md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
            size = fh.seek(0, io.SEEK_END)
            fh.seek(0)
            while digest and (chunk := fh.read(1024 * 1024)):
                md5.update(chunk)
                sha256.update(chunk)
            with video_media.open_video(fh, sniffed.format, settings.limits) as (_c, info):
                pass
    except (OSError, MediaError):
        return None
    if size > settings.limits.max_file_bytes:
        return None
    return ItemReport(path=path, kind=MediaKind.VIDEO, size=size, info=info,
                      md5=md5.hexdigest() if digest else None,
                      sha256=sha256.hexdigest() if digest else None)


@dataclass(frozen=True)
class SplitPlan:
    """How one video is split: its report before any frame is decoded, its segments, and the
    tasks (a module-level function and its arguments, so any process or Ray worker can run
    them) whose outputs ``stitch`` joins: one per segment, then the whole-video task of the
    signals that do not split, if any."""

    probed: ItemReport
    parts: list[Segment]
    tasks: list[tuple[Any, ...]]
    signal_names: tuple[str, ...]  # every signal of the item, in the scan's order

    def stitch(self, outputs: Sequence[Any]) -> ItemReport | None:
        """The item from the tasks' outputs (in task order), or None when the segments do not
        join exactly (then analyse the video whole)."""
        pieces: list[SegmentResult] = list(outputs[: len(self.parts)])
        rest = len(self.tasks) > len(self.parts)
        report: ItemReport = outputs[-1] if rest else replace(self.probed, results={})
        info = self.probed.info
        if (report.status is not ItemStatus.OK or report.signal_errors or info is None
                or not _meet(pieces, info)):
            return None
        if report.info is not None and report.info.frame_count is None:
            report.info = MediaInfo(**{**report.info.__dict__,
                                       "frame_count": sum(p.frames_seen for p in pieces)})
        try:
            stitched = {name: _stitch(name, [p.results[name] for p in pieces])
                        for name in pieces[0].results}
        except NotSplittable:
            return None
        report.results = {name: stitched.get(name) or report.results[name]
                          for name in self.signal_names
                          if name in stitched or name in report.results}
        return report


def plan_split(path: Path, settings: ScanSettings, signal_classes: list[type[Signal]],
               segments: int) -> SplitPlan | None:
    """The plan for analysing the video at ``path`` in ``segments`` time segments, or None
    when it is analysed whole: not a readable video, shorter than ``settings.segment_min_s``,
    no splittable signal, ``--skip-known`` (a known file is not decoded at all)."""
    settings = replace(settings, segments=1)  # a segment's own analysis never splits again
    split = [c for c in signal_classes if c.name in SPLITTABLE]
    rest = [c for c in signal_classes if c.name not in SPLITTABLE]
    if not split or settings.known_items:
        return None
    probed = _probe(path, settings, digest=not rest)  # with ``rest``, its task's report stands
    if (probed is None or probed.info is None
            or (probed.info.duration or 0.0) < settings.segment_min_s):
        return None
    parts = plan(probed.info, segments)
    if len(parts) < 2:
        return None
    tasks: list[tuple[Any, ...]] = [(analyse_segment, path, part, settings, split)
                                    for part in parts]
    if rest:
        tasks.append((_whole, path, settings, rest))
    return SplitPlan(probed, parts, tasks, tuple(c.name for c in signal_classes))


def run_task(task: tuple[Any, ...], progress: Callable[[], None] | None = None) -> Any:
    """One task of a ``SplitPlan`` (``progress``: called on every frame decoded); a segment
    that cannot be cut exactly answers ``NotSplittable`` (returned, not raised, so it
    crosses process boundaries as a value)."""
    fn, *args = task
    try:
        return fn(*args, progress=progress)
    except NotSplittable as exc:
        return exc


def analyse_split(path: Path, settings: ScanSettings, signal_classes: list[type[Signal]],
                  segments: int, *, whole: Callable[[Path], ItemReport] | None = None,
                  progress: Callable[[], None] | None = None) -> ItemReport:
    """The item report of the video at ``path`` with its splittable signals run on
    ``segments`` segments in parallel (forked processes; on Ray the engine spreads a
    ``plan_split`` over its actors instead) and the other signals in one more task over the
    whole video;
    identical to ``Analyser(settings, signal_classes).analyse(path)``. A video shorter than
    ``settings.segment_min_s`` (or anything else) is analysed whole, by ``whole`` when given;
    ``progress`` is called about once a second while the segments run (the watchdog's sign
    of life)."""
    if whole is None:
        unsplit = replace(settings, segments=1)

        def whole(p: Path) -> ItemReport:
            return _whole(p, unsplit, signal_classes)
    split_plan = plan_split(path, settings, signal_classes, segments)
    if split_plan is None:
        return whole(path)
    outputs = list(_local_map(len(split_plan.tasks), progress)(run_task, split_plan.tasks))
    if any(isinstance(out, NotSplittable) for out in outputs):
        return whole(path)
    return split_plan.stitch(outputs) or whole(path)


def _meet(pieces: list[SegmentResult], info: MediaInfo) -> bool:
    """Each segment ends where the next begins and together they cover every frame."""
    for piece, following in itertools.pairwise(pieces):
        if piece.last_index + 1 != following.segment.first:
            return False
    return info.frame_count is None or sum(p.frames_seen for p in pieces) == info.frame_count


def _stitch(name: str, results: list[SignalResult]) -> SignalResult:
    if name == "hash":
        frames = tuple(f for r in results for f in r.output.frames)  # type: ignore[attr-defined]
        first = results[0]
        return SignalResult(first.signal, first.version, VideoHashes(frames), first.payload)
    raise NotSplittable(name)


def _local_map(processes: int, progress: Callable[[], None] | None = None) -> MapFn:
    """Segments in forked processes. In a worker of consentry.pipeline.workers (a daemonic
    process, which multiprocessing forbids to have children) the flag is lifted for the
    pool: each segment process inherits the worker's memory cap and dies with it."""
    def run(fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]]) -> list[Any]:
        me = multiprocessing.current_process()
        daemon = me.daemon
        if daemon:
            me._config["daemon"] = False  # type: ignore[attr-defined]
        try:
            with ProcessPoolExecutor(processes, mp_context=get_context("fork"),
                                     initializer=_die_with, initargs=(os.getpid(),)) as pool:
                futures = [pool.submit(fn, task) for task in tasks]
                while not_done := [f for f in futures if not f.done()]:
                    wait(not_done, timeout=1.0)
                    if progress is not None:
                        progress()
                return [f.result() for f in futures]
        finally:
            if daemon:
                me._config["daemon"] = True  # type: ignore[attr-defined]

    return run


def _die_with(parent: int) -> None:
    from consentry.pipeline.workers import _die_with as die_with

    die_with(parent)
