"""Inputs the fuzzers (tests/fuzz/) found, rebuilt with consentry.testing.hostile: each
must stay a clear media error (not an internal error, a crash or a hang)."""

from __future__ import annotations

from pathlib import Path

from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals.hashes import HashSignal
from consentry.testing.hostile import (
    mkv_with_non_utf8_tags,
    mp4_of_unknown_codec,
    tiff_page_without_size,
)


def test_tiff_page_without_a_size_is_corrupt(tmp_path: Path) -> None:
    """fuzz_media: PIL raised TypeError("Missing dimensions") while counting the pages."""
    report = Analyser(ScanSettings(), [HashSignal]).analyse(tiff_page_without_size(tmp_path / "p.tiff"))
    assert report.status.value == "error" and report.error_code == "corrupt", report.error


def test_mp4_of_an_unknown_codec_is_unsupported(tmp_path: Path) -> None:
    """fuzz_media: the stream had no codec context (AttributeError)."""
    report = Analyser(ScanSettings(), [HashSignal]).analyse(mp4_of_unknown_codec(tmp_path / "v.mp4"))
    assert report.error_code == "unsupported" and "unknown codec" in (report.error or "")


def test_video_tags_that_are_not_utf8_do_not_lose_the_item(tmp_path: Path) -> None:
    """fuzz_media: PyAV raised UnicodeDecodeError on a Matroska title tag."""
    report = Analyser(ScanSettings(), [HashSignal]).analyse(mkv_with_non_utf8_tags(tmp_path / "t.mkv"))
    assert report.status.value == "ok", report.error
    assert report.kind.value == "video" and report.results["hash"].fields["vpdq"]
