"""The one pipeline: decode an item once, run the signals on it, then match, decide, store.

``analyse`` is pure (no database) and runs in worker processes; ``Finaliser`` runs in the
main process, where the indexes and the database connection live.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from consentry.errors import MediaError, SignalError, UnsupportedMedia
from consentry.media import image as image_media
from consentry.media.sniff import sniff
from consentry.media.source import open_regular
from consentry.settings import Limits, ScanSettings
from consentry.signals.base import FrameConsumer, ItemContext, Signal
from consentry.types import Frame, ItemReport, MediaInfo, MediaKind

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
# Images are decoded from memory; bigger files are refused before reading them whole.
MAX_IMAGE_FILE_BYTES = 512 * 1024 * 1024
PROGRESS_S = 1.0


class Analyser:
    """Decodes items and runs the chosen signals on them (one per process).

    ``on_progress``, when set, is called at most every ``progress_every_s`` seconds while a
    video keeps decoding (a worker tells its watchdog that a long video is not stuck)."""

    def __init__(self, settings: ScanSettings, signal_classes: list[type[Signal]]) -> None:
        self.settings = settings
        self.signal_classes = list(signal_classes)
        self.on_progress: Callable[[], None] | None = None
        self.progress_every_s = PROGRESS_S
        self._progress_at = 0.0
        self.cascade = settings.cascade or None
        if self.cascade:  # gated signals run after the signals their gates read
            order = self.cascade.order([c.name for c in signal_classes],
                                       {c.name: c.requires for c in signal_classes})
            signal_classes = sorted(signal_classes, key=lambda c: order.index(c.name))
        self.signals: list[Signal] = [cls() for cls in signal_classes]
        self.fast_jpeg = settings.fast_jpeg and not any(c.full_resolution for c in signal_classes)
        image_signals = [c for c in signal_classes if MediaKind.IMAGE in c.kinds]
        # Hash-only scans need brightness alone: a JPEG's Y plane, no colour decoding.
        self.luma_only = (self.fast_jpeg and not settings.thumbnails
                          and all(c.luma_only for c in image_signals))
        for signal in self.signals:
            signal.setup(settings)

    def analyse(self, path: Path) -> ItemReport:
        if self.settings.segments > 1 and is_video(path):
            from consentry.pipeline.segments import analyse_split

            return analyse_split(path, self.settings, self.signal_classes,
                                 self.settings.segments,
                                 whole=self.analyse_whole, progress=self.on_progress)
        return self.analyse_whole(path)

    def analyse_whole(self, path: Path) -> ItemReport:
        """The item's analysis in this process, never split into segments."""
        report = ItemReport(path=path)
        try:
            self._analyse(path, report)
        except MediaError as exc:
            report.fail(exc.code, str(exc))
        except OSError as exc:
            report.fail("unreadable", f"cannot read: {exc.strerror or exc}")
        except MemoryError:
            report.fail("limit_exceeded", "ran out of memory decoding this item")
        except Exception as exc:  # a bug, not bad media: report it on this item and go on
            log.warning("internal error on %s:\n%s", path, traceback.format_exc())
            report.fail("internal_error", f"internal error ({type(exc).__name__}: {exc})")
        return report

    def _analyse(self, path: Path, report: ItemReport) -> None:
        limits = self.settings.limits
        # Every decoder reads this open file (or bytes read from it), never the name again.
        with open_regular(path) as fh:
            head = fh.read(64)
            report.size = fh.seek(0, io.SEEK_END)
            if report.size == 0:
                raise MediaError("empty file (0 bytes)", code="empty")
            if report.size > limits.max_file_bytes:
                raise MediaError(
                    f"file of {report.size:,} bytes is over the limit of {limits.max_file_bytes:,}",
                    code="limit_exceeded",
                )
            sniffed = sniff(head)
            keep = sniffed is not None and sniffed.kind is MediaKind.IMAGE
            data = _digest(fh, report, keep=keep and report.size <= MAX_IMAGE_FILE_BYTES)
            known = self.settings.known_items
            if known and report.sha256 in known:  # --skip-known: the same versions saw it
                report.known_item_id = known[report.sha256]
                return
            if sniffed is None:
                raise UnsupportedMedia(
                    "not a recognised image or video (identified by content, not by name)"
                )
            if sniffed.kind is MediaKind.VIDEO:
                self._analyse_video(fh, sniffed.format, report)
                return
        if data is None:
            raise MediaError("image file is too large to decode", code="limit_exceeded")
        img = image_media.open_image(data, sniffed.format, limits)
        if image_media.frame_count(img) > 1:
            # Animated GIF/APNG/WebP and multi-page TIFF: every frame is analysed, as a video's.
            self._analyse_video(img, sniffed.format, report)
        else:
            self._analyse_image(img, sniffed.format, report)

    def _applicable(self, kind: MediaKind) -> list[Signal]:
        return [s for s in self.signals if kind in s.kinds]

    def _analyse_image(self, img: Any, fmt: str, report: ItemReport) -> None:
        width, height = img.size  # before a reduced-scale decode changes it
        decoded = image_media.decode(img, fast_jpeg=self.fast_jpeg, luma_only=self.luma_only)
        report.kind = MediaKind.IMAGE
        report.info = MediaInfo(MediaKind.IMAGE, fmt, fmt, width, height)
        pixels = decoded.pixels
        orientation = image_media.exif_orientation(img)
        frame = (Frame(0, 0.0, None, pixels, decoded.full_shape, orientation) if pixels.ndim == 2
                 else Frame(0, 0.0, pixels, None, decoded.full_shape, orientation))
        ctx = ItemContext(report.path, report.info, self.settings, report.results)
        for signal in self._applicable(MediaKind.IMAGE):
            if self.cascade and (why := self.cascade.skip_reason(
                    signal.name, report.findings(), report.skipped, signal.requires)):
                report.skipped[signal.name] = why
                continue
            try:
                report.results[signal.name] = signal.compute_image(frame, ctx)
            except SignalError as exc:
                report.signal_errors[signal.name] = str(exc)
        self._likeness_features(report)
        if self.settings.thumbnails:
            report.thumbnail_jpeg = make_thumbnail(frame.rgb)

    def _analyse_video(self, source: BinaryIO | Any, fmt: str, report: ItemReport) -> None:
        if isinstance(source, image_media.Image.Image):  # an animation: every frame decoded
            self._decode_video(source, fmt, report, skip=False)
            return
        from consentry.media.skipping import NotExact  # PyAV loads only when a video comes

        try:
            self._decode_video(source, fmt, report, skip=True)
        except NotExact as exc:  # frames could not be skipped exactly: decode them all
            log.info("%s: decoding every frame (%s)", report.path, exc)
            report.signal_errors.clear()
            report.thumbnail_jpeg = None
            self._decode_video(source, fmt, report, skip=False)

    def _decode_video(self, source: BinaryIO | Any, fmt: str, report: ItemReport, *,
                      skip: bool) -> None:
        """Hand the frames the signals sample to them; with ``skip``, frames none samples
        are skipped undecoded where the video allows it (consentry.media.video)."""
        limits = self.settings.limits
        with _frames(source, fmt, limits) as (info, open_frames):
            report.kind = MediaKind.VIDEO
            report.info = info
            ctx = ItemContext(report.path, info, self.settings, report.results)
            consumers: list[tuple[Signal, FrameConsumer]] = [
                (s, s.video_consumer(ctx)) for s in self._applicable(MediaKind.VIDEO)
            ]
            fps = info.fps or 25.0

            def wanted(index: int) -> bool:
                return index == 0 or any(c.wants(index, index / fps) for _s, c in consumers)

            frames = open_frames(wanted, skip)
            frames_seen = 0
            error: MediaError | None = None
            try:
                for frame in frames:
                    frames_seen += 1
                    now = time.monotonic()
                    if self.on_progress is not None and now - self._progress_at >= self.progress_every_s:
                        self._progress_at = now
                        self.on_progress()
                    shared: dict[str, Any] = {}
                    for signal, consumer in consumers:
                        if signal.name in report.signal_errors:
                            continue
                        if consumer.wants(frame.index, frame.timestamp):
                            try:
                                consumer.add(frame, shared)
                            except SignalError as exc:
                                report.signal_errors[signal.name] = str(exc)
                    if self.settings.thumbnails and report.thumbnail_jpeg is None:
                        report.thumbnail_jpeg = make_thumbnail(frame.rgb_scaled(640))
            except MediaError as exc:
                if frames_seen == 0:
                    raise
                error = exc  # keep what the readable part gave, and say the rest is bad
            for signal, consumer in consumers:
                if signal.name in report.signal_errors:
                    continue
                try:
                    report.results[signal.name] = consumer.finish()
                except SignalError as exc:
                    report.signal_errors[signal.name] = str(exc)
            self._likeness_features(report)
            if info.frame_count is None:
                counted = getattr(frames, "numbered", frames_seen)
                report.info = MediaInfo(**{**info.__dict__, "frame_count": counted})
            if error is not None:
                report.fail(error.code, str(error))

    def _likeness_features(self, report: ItemReport) -> None:
        """The likeness gate of the cascade, then (someone enrolled) the descriptors of each
        face track's best faces, batched, here in the worker instead of the main process."""
        if self.cascade and (why := self.cascade.skip_reason(
                "likeness", report.findings(), report.skipped, ("faces",))):
            report.skipped["likeness"] = why
            return
        faces = report.results.get("faces")
        if self.settings.likeness_descriptors and faces is not None:
            from consentry.signals.faces.embed import embed_tracks

            try:
                embed_tracks(faces.payload)
            except RuntimeError as exc:  # dlib reports bad input this way
                report.signal_errors["faces"] = f"face descriptors failed: {exc}"


@contextmanager
def _frames(source: BinaryIO | Any, fmt: str, limits: Limits
            ) -> Iterator[tuple[MediaInfo, Callable[[Callable[[int], bool], bool], Iterable[Any]]]]:
    """A video's frames decoded by FFmpeg from the open file (given which frame numbers are
    wanted, or None for every one), or an animated image's (a PIL image) frames or pages,
    every one."""
    if isinstance(source, image_media.Image.Image):
        yield (image_media.animation_info(source, fmt, limits),
               lambda _wanted, _skip: image_media.iter_image_frames(source, limits))
        return
    from consentry.media import video as video_media  # PyAV loads only when a video comes

    with video_media.open_video(source, fmt, limits) as (container, info):
        yield info, lambda wanted, skip: video_media.iter_frames(container, info, limits, wanted,
                                                                 skip=skip)


def is_video(path: Path) -> bool:
    try:
        with open_regular(path) as fh:
            sniffed = sniff(fh.read(64))
    except (OSError, MediaError):
        return False  # the unsplit analysis says why
    return sniffed is not None and sniffed.kind is MediaKind.VIDEO


def _digest(fh: BinaryIO, report: ItemReport, *, keep: bool) -> bytes | None:
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    fh.seek(0)
    chunks: list[bytes] = []
    while chunk := fh.read(_CHUNK):
        md5.update(chunk)
        sha256.update(chunk)
        if keep:
            chunks.append(chunk)
    report.md5, report.sha256 = md5.hexdigest(), sha256.hexdigest()
    return b"".join(chunks) if keep else None


def make_thumbnail(rgb: Any, max_side: int = 320) -> bytes:
    from PIL import Image

    img = Image.fromarray(rgb)
    img.thumbnail((max_side, max_side))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=80)
    return out.getvalue()

