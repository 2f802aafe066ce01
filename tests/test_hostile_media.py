"""Media that tries to make the scan read something else, wait forever, or hide a known
image after its first frame. Every case is built here with consentry.testing.hostile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from consentry.media.video import DEMUXERS
from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals.hashes import HashSignal
from consentry.signals.hashing import pdq
from consentry.testing.hostile import (
    ANIMATED_FORMATS,
    hide_in_frames,
    jpeg_claiming_size,
    protocol_names,
    write_protocol_named,
)
from consentry.testing.samples import astronaut, write_video
from consentry.types import ItemStatus


@pytest.fixture(scope="module")
def analyser() -> Analyser:
    return Analyser(ScanSettings(), [HashSignal])


def _frame_hashes(report) -> list[str]:  # type: ignore[no-untyped-def]
    assert report.status is ItemStatus.OK, report.error
    return [f["hash"] for f in report.results["hash"].fields["vpdq"]]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder with ``banked.mp4`` (the video the names point at) and ``own.mp4`` (the bytes
    every protocol-named file really holds)."""
    folder = tmp_path_factory.mktemp("protocols")
    write_video(folder / "banked.mp4", frames=60, seed=1)
    write_video(folder / "own.mp4", frames=60, seed=2)
    return folder, folder / "own.mp4"


def test_protocol_names_are_read_as_plain_files(analyser: Analyser, videos, monkeypatch) -> None:
    """Relative names such as ``concat:banked.mp4|banked.mp4`` or ``pipe:0``, run from their
    folder, hash the file's own bytes: not the banked file they name, not standard input."""
    folder, own = videos
    monkeypatch.chdir(folder)
    expected = _frame_hashes(analyser.analyse(own))
    banked = _frame_hashes(analyser.analyse(Path("banked.mp4")))
    assert expected != banked
    named = write_protocol_named(folder, own, "banked.mp4")
    for path in named:
        relative = Path(path.name)
        assert str(relative) in protocol_names("banked.mp4")
        assert _frame_hashes(analyser.analyse(relative)) == expected, relative


@pytest.mark.parametrize("stdin", ["endless", "silent"])
def test_pipe_name_never_reads_standard_input(videos, tmp_path: Path, stdin: str) -> None:
    """``consentry scan pipe:0``, every installed signal running (the provenance signal reads
    the container's tags too), with a standard input that never ends (``yes``) or never
    says anything (a pipe nobody writes to): the scan finishes and hashes the file called
    ``pipe:0``."""
    _folder, own = videos
    (tmp_path / "pipe:0").write_bytes(own.read_bytes())
    writer = subprocess.Popen(["yes"] if stdin == "endless" else ["sleep", "600"],
                              stdout=subprocess.PIPE)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "consentry", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}",
             "scan", "--json", "--workers", "1", "pipe:0"],
            cwd=tmp_path, stdin=writer.stdout, capture_output=True, text=True, timeout=180)
    finally:
        writer.kill()
        writer.wait()
    assert proc.returncode in (0, 1), proc.stderr
    item = json.loads(proc.stdout.splitlines()[0])
    assert item["status"] == "ok" and item["vpdq"], item
    assert "error" not in (item.get("provenance") or {}).get("metadata", {}), item["provenance"]


def test_a_demuxer_cannot_open_other_urls(tmp_path: Path) -> None:
    """Only the identified container formats are demuxed (no playlist or concat demuxer that
    opens URLs of its own); and were one reached, FFmpeg may open no protocol at all."""
    assert set(DEMUXERS.values()) <= {"mov", "matroska", "avi", "gif"}
    import av

    write_video(tmp_path / "a.mp4", frames=10)
    listing = tmp_path / "list.txt"
    listing.write_text("ffconcat version 1.0\nfile a.mp4\n")
    from consentry.media.video import _OPEN_OPTIONS

    with open(listing, "rb") as fh, pytest.raises(av.FFmpegError):
        av.open(fh, format="concat", options={**_OPEN_OPTIONS, "safe": "0"})


def test_a_fifo_swapped_in_after_the_walk_is_refused_at_once(analyser: Analyser,
                                                              tmp_path: Path) -> None:
    fifo = tmp_path / "was-a-photo.jpg"
    os.mkfifo(fifo)  # nobody ever writes: a blocking open would wait forever
    report = analyser.analyse(fifo)
    assert report.status is ItemStatus.ERROR and report.error_code == "not_regular"


@pytest.mark.parametrize("fmt", ANIMATED_FORMATS)
@pytest.mark.parametrize("position", [1, 2])
def test_an_image_hidden_in_a_later_frame_is_hashed(analyser: Analyser, tmp_path: Path,
                                                    fmt: str, position: int) -> None:
    """Frame 2 or 3 of an animated GIF/APNG/WebP, or page 2 or 3 of a TIFF, is decoded and
    hashed: its hash is within matching distance of the photo's own."""
    photo = astronaut().resize((256, 256))
    reference = pdq.compute(__import__("numpy").asarray(photo)).hex
    path = hide_in_frames(tmp_path / f"hidden.{fmt.lower()}", photo, fmt, position=position)
    report = analyser.analyse(path)
    frames = report.results["hash"].fields["vpdq"]
    assert report.kind.value == "video" and report.info.container == fmt.lower().replace("png", "png")
    assert report.info.frame_count == 3 and [f["frame"] for f in frames] == [0, 1, 2]
    distances = [pdq.distance(f["hash"], reference) for f in frames]
    limit = 40 if fmt == "GIF" else 16  # GIF's 256-colour palette moves some bits
    assert distances[position] <= limit, distances
    assert all(d > 70 for i, d in enumerate(distances) if i != position), distances
    assert frames[position]["quality"] > 50
    if fmt != "TIFF":  # 300 ms a frame
        assert [f["timestamp"] for f in frames] == [0.0, 0.3, 0.6]


def test_tiff_page_over_the_pixel_limit_is_refused_alone(tmp_path: Path) -> None:
    small = Image.new("RGB", (64, 64), (10, 20, 30))
    big = Image.new("RGB", (2000, 1000), (200, 20, 30))
    path = tmp_path / "pages.tiff"
    small.save(path, save_all=True, append_images=[big])
    analyser = Analyser(ScanSettings(limits=ScanSettings().limits.__class__(max_pixels=100_000)),
                        [HashSignal])
    report = analyser.analyse(path)
    assert report.error_code == "limit_exceeded" and "frame 1" in (report.error or "")
    assert len(report.results["hash"].fields["vpdq"]) == 1  # the readable page is kept


def test_jpeg_declaring_a_huge_size_with_little_data_is_corrupt(analyser: Analyser,
                                                                tmp_path: Path) -> None:
    report = analyser.analyse(jpeg_claiming_size(tmp_path / "claims.jpg", 9000, 9000))
    assert report.status is ItemStatus.ERROR and report.error_code == "corrupt"
    assert "declares 9000x9000" in (report.error or "")
