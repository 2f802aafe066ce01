"""Inputs the fuzzers (tests/fuzz/) found, rebuilt with consentry.testing.hostile: each
must stay a clear media error (not an internal error, a crash or a hang)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals.hashes import HashSignal
from consentry.testing.hostile import (
    gif_with_oversized_frame,
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


def test_a_gif_frame_declaring_a_huge_canvas_is_refused_before_it_is_allocated(tmp_path: Path) -> None:
    """fuzz_media: PIL allocated a GIF frame's 31333x27208 canvas while seeking to it (1 GB
    from 5.7 KB, over the fuzzer's memory cap). Analysed in a fresh process, whose peak RSS
    is this file's alone: 30000x30000 in palette mode would be 900 MB."""
    gif = gif_with_oversized_frame(tmp_path / "g.gif")
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from consentry.pipeline.analysis import Analyser\n"
        "from consentry.settings import ScanSettings\n"
        "from consentry.signals.hashes import HashSignal\n"
        "r = Analyser(ScanSettings(), [HashSignal]).analyse(Path(sys.argv[1]))\n"
        # VmHWM, not ru_maxrss: that keeps the forking parent's (pytest's) peak across exec
        "peak = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "print(json.dumps({'code': r.error_code, 'error': r.error,\n"
        "                  'rss_mb': int(peak.split()[1]) / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(gif)], capture_output=True, text=True,
                         check=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == "limit_exceeded" and "frame 1" in result["error"], result
    assert result["rss_mb"] < 400, result
