"""Videos decode only what the signals sample, with the full decode's frames and numbers; the
limits count sampled work, so a long video is accepted while a hostile one stays bounded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from consentry.media import video as video_media
from consentry.pipeline.analysis import Analyser
from consentry.pipeline.workers import WorkerPool
from consentry.settings import Limits, ScanSettings
from consentry.signals import catalog
from consentry.signals.base import EveryNthFrame, FrameConsumer, ItemContext, SampledFrame, Signal
from consentry.signals.options import HashOptions
from consentry.testing.samples import write_video
from consentry.types import Frame, SignalResult
from tests.conftest import THREATEXCHANGE, need

SAMPLE_VIDEOS = THREATEXCHANGE / "tmk" / "sample-videos"


def _decode(path: Path, wanted: Any) -> tuple[list[tuple[int, bytes]], video_media.Frames]:
    """(frame number, pixels) of every wanted frame handed on, and the decode."""
    with open(path, "rb") as fh, video_media.open_video(fh, "mp4", Limits()) as (container, info):
        frames = video_media.iter_frames(container, info, Limits(), wanted)
        kept = [(f.index, f.rgb.tobytes()) for f in frames if f.index % 30 == 0]
    return kept, frames


@pytest.mark.parametrize("name", ["chair-19-sd-bar", "pattern-hd-no-bar", "doorknob-hd-no-bar"])
def test_skipping_hands_on_the_full_decodes_frames(name: str) -> None:
    path = need(SAMPLE_VIDEOS / f"{name}.mp4")
    sampled, skipping = _decode(path, lambda i: i % 30 == 0)  # 1 frame/s at 30 fps
    everything, full = _decode(path, None)
    assert sampled == everything  # the same pixels under the same numbers
    assert skipping.numbered == full.numbered == full.budget.decoded
    assert skipping.budget.decoded < 0.8 * full.budget.decoded  # frames were really skipped


def test_every_frame_hashing_still_decodes_every_frame() -> None:
    path = need(SAMPLE_VIDEOS / "doorknob-hd-no-bar.mp4")
    _kept, frames = _decode(path, lambda i: True)
    assert frames.budget.decoded == frames.numbered == 120


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("sampling") / "clip.mp4", frames=300, fps=25,
                       size=(160, 120))


def _hash(clip: Path, **limits: Any) -> dict[str, Any]:
    settings = ScanSettings(signals=("hash",), options=(HashOptions(video_fps=1.0),),
                            limits=Limits(**limits))
    return Analyser(settings, catalog.resolve(("hash",))).analyse(clip).as_json()


def test_max_frames_counts_sampled_frames(clip: Path) -> None:
    ok = _hash(clip, max_frames=12)  # 300 frames decoded, 12 sampled (1 a second)
    assert ok["status"] == "ok" and len(ok["vpdq"]) == 12
    assert ok["media"]["frame_count"] == 300
    refused = _hash(clip, max_frames=11)
    assert refused["error_code"] == "limit_exceeded" and "sampled" in refused["error"]


def test_decoded_frames_stay_bounded(clip: Path) -> None:
    item = _hash(clip, max_decoded_frames=100)
    assert item["error_code"] == "limit_exceeded"


def test_decode_time_grows_with_the_video_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """10 s of decode, then 2 s more per second of video: frame 250 of a 25 fps video (10 s
    in) may be reached 29 s after the start, not 31 s."""
    from consentry.types import MediaInfo, MediaKind

    now = [1000.0]
    monkeypatch.setattr(video_media.time, "monotonic", lambda: now[0])
    info = MediaInfo(MediaKind.VIDEO, "mp4", "h264", 16, 16, 60.0, 25.0, None)
    budget = video_media.Budget(info, Limits(max_decode_s=10, decode_s_per_video_s=2), None)
    now[0] += 29.0
    budget.check(250)
    now[0] += 2.0
    with pytest.raises(video_media.LimitExceeded, match="longer than 30 s"):
        budget.check(251)
    stuck = video_media.Budget(info, Limits(max_decode_s=10, decode_s_per_video_s=2), None)
    now[0] += 11.0  # a decoder stuck on its first frames gets no more than max_decode_s
    with pytest.raises(video_media.LimitExceeded):
        stuck.check(1)


class _SlowFrames(Signal):
    """A second per sampled frame: a long analysis that keeps making progress."""

    name = "slow-frames-test"
    version = "1"

    def compute_image(self, frame: Frame, ctx: ItemContext) -> SignalResult:
        return self.result({})

    def video_consumer(self, ctx: ItemContext) -> FrameConsumer:
        signal = self

        class Consumer(FrameConsumer):
            sampler = EveryNthFrame(ctx.info.fps, 1.0)

            def wants(self, index: int, timestamp: float) -> bool:
                return self.sampler(index, timestamp)

            def add(self, frame: SampledFrame, shared: dict[str, Any]) -> None:
                time.sleep(1.0)

            def finish(self) -> SignalResult:
                return signal.result({})

        return Consumer()


def test_a_video_that_keeps_decoding_outlives_the_watchdog(tmp_path: Path) -> None:
    """8 s of work under a 4 s watchdog: the worker reports progress while frames come, so
    the watchdog (there for a decoder stuck inside one frame) lets it finish."""
    path = write_video(tmp_path / "eight.mp4", frames=200, fps=25, size=(96, 64))
    settings = ScanSettings(limits=Limits(max_item_s=4.0))
    reports = list(WorkerPool([path], settings, [_SlowFrames], workers=1).reports())
    assert [r.error_code for r in reports] == [None]


def test_a_full_decode_still_counts_only_sampled_frames(clip: Path) -> None:
    """The fallback when skipping is not exact decodes every frame: the sampled-frame limit
    must not count the frames no signal samples (a 2 h 30 fps video would be refused)."""
    with open(clip, "rb") as fh, video_media.open_video(fh, "mp4", Limits()) as (container, info):
        frames = video_media.iter_frames(container, info, Limits(max_frames=12),
                                         lambda i: i % 25 == 0, skip=False)
        assert sum(1 for _ in frames) == 300  # every frame decoded, 12 sampled: within limit
    assert frames.budget.sampled == 12
