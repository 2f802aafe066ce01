"""Decode videos with PyAV (FFmpeg) within limits on claimed duration, frames and wall time;
frames no signal samples are skipped undecoded where the numbering stays exact."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from consentry.errors import LimitExceeded, MediaError, UnsupportedMedia
from consentry.media.skipping import sampled_frames
from consentry.settings import Limits
from consentry.types import MediaInfo, MediaKind

# The demuxer is the one the content was identified as (consentry.media.sniff), never
# FFmpeg's own guess: a probed format such as HLS or concat would open other URLs.
DEMUXERS = {"mp4": "mov", "mov": "mov", "matroska": "matroska", "avi": "avi", "gif": "gif"}
# FFmpeg reads from our file object; any URL a demuxer tries to open by itself (an external
# reference, a playlist entry) is refused: no protocol is named "none".
NO_PROTOCOLS = "none"
_OPEN_OPTIONS = {"probesize": str(20 * 1024 * 1024), "analyzeduration": str(20_000_000),
                 "protocol_whitelist": NO_PROTOCOLS}
_READ_BLOCK = 256 * 1024  # bytes PyAV asks the file object for at a time


@dataclass
class VideoFrame:
    """A decoded frame; the RGB conversion (the costly part) happens only when asked for."""

    index: int
    timestamp: float  # seconds, index / fps, as Meta's vPDQ reports it
    pts_time: float | None
    _frame: av.VideoFrame
    _rgb: np.ndarray | None = None

    @property
    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            self._rgb = self._frame.to_ndarray(format="rgb24")
        return self._rgb

    def rgb_scaled(self, max_side: int) -> np.ndarray:
        """RGB scaled down (by FFmpeg's swscale) so the longer side is at most ``max_side``."""
        w, h = self._frame.width, self._frame.height
        scale = max_side / max(w, h)
        if scale >= 1.0:
            return self.rgb
        size = (max(2, round(w * scale)), max(2, round(h * scale)))
        return self._frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray()


@contextmanager
def open_video(source: BinaryIO, fmt: str, limits: Limits) -> Iterator[tuple[av.container.InputContainer, MediaInfo]]:  # noqa: E501
    """Open the video in ``source`` (a file object: FFmpeg never sees a name) with the
    demuxer of the identified format ``fmt``."""
    demuxer = DEMUXERS.get(fmt)
    if demuxer is None:
        raise MediaError(f"no video demuxer for {fmt}", code="unsupported")
    source.seek(0)
    try:
        # Tags are the file's own bytes: ones that are not UTF-8 are shown with U+FFFD, not
        # a UnicodeDecodeError that loses the item (found by fuzz_media).
        container = av.open(source, mode="r", format=demuxer, options=_OPEN_OPTIONS,
                            timeout=30.0, buffer_size=_READ_BLOCK, metadata_errors="replace")
    except av.FFmpegError as exc:
        raise MediaError(f"not a readable {fmt} video: {_reason(exc)}", code="corrupt") from exc
    try:
        info = _probe(container, fmt, limits)
        yield container, info
    finally:
        container.close()


def read_tags(path: Path) -> dict[str, str] | None:
    """The metadata tags of the container and of its first video stream (the first stream's
    prefixed ``stream_``), read from the file's own bytes as ``open_video`` reads them (never
    by name: no FFmpeg protocol). None when the content is not a video container FFmpeg
    demuxes here (an animated image: read its image metadata instead)."""
    from consentry.media.sniff import sniff
    from consentry.media.source import open_regular

    with open_regular(path) as fh:
        sniffed = sniff(fh.read(64))
        demuxer = DEMUXERS.get(sniffed.format) if sniffed else None
        if demuxer is None or (sniffed is not None and sniffed.format == "gif"):
            return None
        fh.seek(0)
        try:
            container = av.open(fh, mode="r", format=demuxer, options=_OPEN_OPTIONS, timeout=30.0,
                                buffer_size=_READ_BLOCK, metadata_errors="replace")
        except av.FFmpegError as exc:
            raise MediaError(f"not a readable {sniffed.format} video: {_reason(exc)}",
                             code="corrupt") from exc
        with container:
            tags = {str(k): str(v) for k, v in (container.metadata or {}).items()}
            for stream in container.streams.video[:1]:
                tags |= {f"stream_{k}": str(v) for k, v in (stream.metadata or {}).items()}
    return tags


def _probe(container: av.container.InputContainer, fmt: str, limits: Limits) -> MediaInfo:
    if not container.streams.video:
        raise MediaError(f"{fmt} file holds no video stream", code="corrupt")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if ctx is None:  # FFmpeg has no decoder for the stream's codec (found by fuzz_media)
        raise UnsupportedMedia(f"{fmt} video stream of an unknown codec")
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise MediaError("video stream declares no frame size", code="corrupt")
    if width * height > limits.max_pixels:
        raise LimitExceeded(f"video frames of {width}x{height} exceed the pixel limit")
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else None
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    if duration is not None and duration > limits.max_duration_s:
        raise LimitExceeded(
            f"video claims to last {duration / 3600:.1f} h, over the limit of "
            f"{limits.max_duration_s / 3600:.1f} h (raise --max-duration to allow)"
        )
    frames = int(stream.frames) if stream.frames else None
    if frames is not None and frames > limits.max_decoded_frames:
        raise LimitExceeded(f"video claims {frames:,} frames, over the limit of "
                            f"{limits.max_decoded_frames:,}")
    return MediaInfo(
        kind=MediaKind.VIDEO,
        container=fmt,
        codec=ctx.name,
        width=width,
        height=height,
        duration=duration,
        fps=fps,
        frame_count=frames,
    )


# Containers whose packets carry presentation timestamps that number frames (AVI's and GIF's
# often do not): only there are frames skipped undecoded.
_SKIPPABLE = {"mp4", "mov", "matroska"}


class Frames:
    """The frames of one decode (see ``iter_frames``); ``numbered`` says how many frames the
    video had so far, decoded or skipped (the full decode's count)."""

    def __init__(self, container: av.container.InputContainer, info: MediaInfo, limits: Limits,
                 wanted: Callable[[int], bool] | None, skip: bool = True) -> None:
        self.container, self.info, self.wanted, self.skip = container, info, wanted, skip
        self.budget = Budget(info, limits, wanted)

    @property
    def numbered(self) -> int:
        return self.budget.numbered

    def __iter__(self) -> Iterator[VideoFrame]:
        container, info, budget = self.container, self.info, self.budget
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if (self.wanted is None or not self.skip or info.container not in _SKIPPABLE or not info.fps
                or stream.time_base is None):
            yield from _every_frame(container, stream, budget)
        else:
            try:
                yield from sampled_frames(container, stream, budget.fps, budget, self.wanted,
                                          VideoFrame)
            except av.FFmpegError as exc:
                raise MediaError(f"video data is corrupt after frame {budget.numbered}: "
                                 f"{_reason(exc)}", code="corrupt") from exc
        if budget.decoded == 0:
            raise MediaError("video has no decodable frames (truncated or corrupt)", code="corrupt")


def iter_frames(
    container: av.container.InputContainer, info: MediaInfo, limits: Limits,
    wanted: Callable[[int], bool] | None = None, *, skip: bool = True,
) -> Frames:
    """The frames in presentation order, numbered from 0, within the limits.

    With ``wanted`` (which frame numbers some signal samples), a frame no signal samples is
    not decoded when no other frame refers to it (FFmpeg's ``skip_frame`` NONREF, set packet
    by packet): the frames handed on are the full decode's own, with its numbers. Where the
    numbering cannot be kept exactly, ``NotExact`` is raised before a wrong number is handed
    on (the caller decodes again with ``skip`` False: every frame decoded, ``wanted`` still
    saying which count as sampled).
    """
    return Frames(container, info, limits, wanted, skip)


class Budget:
    """The limits of one decode. Time: ``max_decode_s`` plus ``decode_s_per_video_s`` for
    each second of video decoded so far (credited at most up to ``max_duration_s``), so a
    long video that keeps decoding goes on while a decoder stuck on few frames is stopped as
    before. Frames: every decoded one counts against ``max_decoded_frames``, and the ones
    handed to signals (sampled) against ``max_frames``."""

    def __init__(self, info: MediaInfo, limits: Limits, wanted: Callable[[int], bool] | None) -> None:
        self.limits, self.wanted = limits, wanted
        self.fps = info.fps or 25.0
        self.started = time.monotonic()
        self.decoded = self.sampled = self.numbered = 0

    def check(self, index: int) -> None:
        limits = self.limits
        self.decoded += 1
        self.numbered = max(self.numbered, index + 1)
        if self.decoded > limits.max_decoded_frames:
            raise LimitExceeded(f"video has more than {limits.max_decoded_frames:,} frames")
        if self.wanted is None or self.wanted(index):
            self.sampled += 1
            if self.sampled > limits.max_frames:
                raise LimitExceeded(f"more than {limits.max_frames:,} frames of this video are "
                                    "sampled (sample fewer a second)")
        played = index / self.fps
        if played > limits.max_duration_s:
            raise LimitExceeded(f"video lasts longer than {limits.max_duration_s / 3600:.1f} h "
                                "(raise --max-duration to allow)")
        allowed = limits.max_decode_s + limits.decode_s_per_video_s * played
        if time.monotonic() - self.started > allowed:
            raise LimitExceeded(
                f"decoding took longer than {allowed:.0f} s ({limits.max_decode_s:.0f} s plus "
                f"{limits.decode_s_per_video_s:g} s per second of video; stopped at frame "
                f"{index}; raise --max-decode-seconds to allow)")


def _every_frame(container: av.container.InputContainer, stream: av.VideoStream,
                 budget: Budget) -> Iterator[VideoFrame]:
    index = 0
    try:
        for frame in container.decode(stream):
            budget.check(index)
            pts_time = float(frame.time) if frame.time is not None else None
            yield VideoFrame(index, index / budget.fps, pts_time, frame)
            index += 1
    except av.FFmpegError as exc:
        raise MediaError(f"video data is corrupt after frame {index}: {_reason(exc)}",
                         code="corrupt") from exc


def _reason(exc: av.FFmpegError) -> str:
    """FFmpeg's reason without the file name PyAV appends (a name is not ours to print
    unescaped: it may hold undecodable bytes or terminal escapes)."""
    return str(exc.strerror or type(exc).__name__)
