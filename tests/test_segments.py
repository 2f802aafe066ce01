"""A video split into time segments, analysed in parallel and stitched, gives the item JSON of
the unsplit analysis (vPDQ frame by frame, media info, faces from the whole-video task)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentry.pipeline.analysis import Analyser
from consentry.pipeline.segments import Segment, analyse_segment, analyse_split, plan
from consentry.settings import ScanSettings
from consentry.signals import catalog
from consentry.signals.options import HashOptions
from consentry.testing.samples import write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 12 s at 25 fps; x264 puts keyframes 250 frames apart, so most segments start between
    # keyframes (seek to the one before, decode, drop what precedes the segment)
    path = tmp_path_factory.mktemp("segments") / "clip.mp4"
    return write_video(path, frames=300, fps=25, size=(192, 144))


@pytest.mark.parametrize(("signals", "segments"), [(("hash",), 3), (("hash",), 7),
                                                   (("hash", "faces"), 4)])
def test_split_equals_unsplit(clip: Path, signals: tuple[str, ...], segments: int) -> None:
    settings = ScanSettings(signals=signals, options=(HashOptions(video_fps=5.0),))
    classes = catalog.resolve(signals)
    whole = Analyser(settings, classes).analyse(clip)
    split = analyse_split(clip, settings, classes, segments)
    assert whole.status.value == "ok"
    assert len(whole.as_json()["vpdq"]) == 60
    assert split.as_json() == whole.as_json()


def test_segments_meet_exactly(clip: Path) -> None:
    settings = ScanSettings(signals=("hash",), options=(HashOptions(video_fps=5.0),))
    classes = catalog.resolve(("hash",))
    whole = Analyser(settings, classes).analyse(clip)
    assert whole.info is not None
    parts = plan(whole.info, 5)
    assert parts[0] == Segment(0, 60) and parts[-1].end is None
    pieces = [analyse_segment(clip, p, settings, classes) for p in parts]
    frames = [f["frame"] for piece in pieces for f in piece.results["hash"].output.as_json()["vpdq"]]
    assert frames == list(range(0, 300, 5))  # each sampled frame once, in order
    assert sum(p.frames_seen for p in pieces) == 300


def test_what_is_not_a_video_is_analysed_whole(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not media")
    classes = catalog.resolve(("hash",))
    settings = ScanSettings(signals=("hash",))
    assert analyse_split(path, settings, classes, 4).as_json() == \
        Analyser(settings, classes).analyse(path).as_json()
