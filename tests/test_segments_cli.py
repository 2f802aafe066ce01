"""``--segments`` on ``scan`` and ``backfill run``: Meta's sample videos split into time segments
in the worker that holds them and stitched give the item JSON of the unsplit scan."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from consentry.pipeline import segments as segments_module
from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals import catalog
from consentry.signals.options import HashOptions
from tests.conftest import THREATEXCHANGE, need

VIDEOS = ("chair-19-sd-bar", "pattern-longer-no-bar")
PER_RUN = ("item_id", "scan_id", "elapsed_ms")


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("segment-videos")
    for name in VIDEOS:
        shutil.copy(need(THREATEXCHANGE / "tmk" / "sample-videos" / f"{name}.mp4"), folder)
    return folder


def _items(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    items = [line for line in lines if "path" in line]
    return {Path(i["path"]).name: {k: v for k, v in i.items() if k not in PER_RUN} for i in items}


def test_analyser_splits_a_long_video_and_gets_the_unsplit_result(
        videos: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = videos / "chair-19-sd-bar.mp4"  # 564 frames at 30 fps
    options = (HashOptions(every_frame=True),)
    classes = catalog.resolve(("hash",))
    whole = Analyser(ScanSettings(signals=("hash",), options=options), classes).analyse(path)
    tasks: list[int] = []

    def recording_map(fn: Any, work: Any) -> list[Any]:
        tasks.append(len(work))
        return [fn(task) for task in work]

    # the segments in this process, counted (the real pool forks them)
    monkeypatch.setattr(segments_module, "_local_map", lambda *_a, **_k: recording_map)
    analyser = Analyser(ScanSettings(signals=("hash",), options=options, segments=3,
                                     segment_min_s=0.0), classes)
    split = analyser.analyse(path)
    assert tasks == [3]  # three segments, nothing else to run whole
    assert split.as_json() == whole.as_json()
    assert len(split.as_json()["vpdq"]) == 564


def test_short_videos_are_not_split(videos: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_split(*_args: Any, **_kw: Any) -> Any:
        raise AssertionError("split")

    monkeypatch.setattr(segments_module, "analyse_segment", no_split)
    settings = ScanSettings(signals=("hash",), segments=3)  # at least 60 s to split
    report = Analyser(settings, catalog.resolve(("hash",))).analyse(videos / "chair-19-sd-bar.mp4")
    assert report.status.value == "ok"


def test_scan_with_segments_equals_scan_without(run_cli, videos: Path) -> None:  # type: ignore[no-untyped-def]
    plain = run_cli("scan", "--json", "--signals", "hash,faces", str(videos))
    split = run_cli("scan", "--json", "--signals", "hash,faces", "--segments", "4",
                    "--segment-min-seconds", "0", str(videos))
    assert plain.code == split.code == 0, split.stderr
    assert _items(split.lines) == _items(plain.lines)
    assert len(_items(plain.lines)) == len(VIDEOS)


def test_backfill_with_segments_equals_scan(run_cli, videos: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plain = run_cli("scan", "--json", "--signals", "hash", str(videos))
    backfill = run_cli("backfill", "run", "--json", "--signals", "hash", "--segments", "3",
                       "--segment-min-seconds", "0", str(videos),
                       db=f"sqlite:///{tmp_path / 'b.db'}")
    assert backfill.code == 0, backfill.stderr
    assert _items(backfill.lines) == _items(plain.lines)
