"""Decode videos with PyAV (FFmpeg) within limits on claimed duration, frames and wall time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from consentry.errors import LimitExceeded, MediaError, UnsupportedMedia
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
    if frames is not None and frames > limits.max_frames:
        raise LimitExceeded(f"video claims {frames:,} frames, over the limit of {limits.max_frames:,}")
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


def iter_frames(
    container: av.container.InputContainer, info: MediaInfo, limits: Limits
) -> Iterator[VideoFrame]:
    """Every frame in decode order, numbered from 0, with time and frame-count limits."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    fps = info.fps or 25.0
    started = time.monotonic()
    index = 0
    try:
        for frame in container.decode(stream):
            if index >= limits.max_frames:
                raise LimitExceeded(f"video has more than {limits.max_frames:,} frames")
            if time.monotonic() - started > limits.max_decode_s:
                raise LimitExceeded(
                    f"decoding took longer than {limits.max_decode_s:.0f} s "
                    f"(stopped at frame {index}; raise --max-decode-seconds to allow)"
                )
            pts_time = float(frame.time) if frame.time is not None else None
            yield VideoFrame(index, index / fps, pts_time, frame)
            index += 1
    except av.FFmpegError as exc:
        raise MediaError(f"video data is corrupt after frame {index}: {_reason(exc)}",
                         code="corrupt") from exc
    if index == 0:
        raise MediaError("video has no decodable frames (truncated or corrupt)", code="corrupt")


def _reason(exc: av.FFmpegError) -> str:
    """FFmpeg's reason without the file name PyAV appends (a name is not ours to print
    unescaped: it may hold undecodable bytes or terminal escapes)."""
    return str(exc.strerror or type(exc).__name__)
