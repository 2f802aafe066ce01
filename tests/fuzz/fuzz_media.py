"""Fuzz the decode path: any bytes, analysed as a file, give a report, never an exception,
a crash, a hang or an ``internal_error`` (a bug in Consentry rather than bad media)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import atheris
from _harness import run

# PIL's format parsers are Python: instrumented too (its plugins load here, not on first use).
with atheris.instrument_imports(include=["consentry.media", "consentry.pipeline", "PIL"]):
    from PIL import Image

    Image.init()
    from consentry.pipeline.analysis import Analyser
    from consentry.settings import Limits, ScanSettings
    from consentry.signals.hashes import HashSignal

# Small limits: each input must be quick, and the limit paths are part of what is fuzzed.
LIMITS = Limits(max_pixels=4_000_000, max_decode_s=5.0, max_frames=500, max_duration_s=600.0)
ANALYSER = Analyser(ScanSettings(limits=LIMITS), [HashSignal])
FILE = Path(tempfile.mkdtemp(prefix="consentry-fuzz-")) / "item"
KNOWN_CODES = {"empty", "corrupt", "unsupported", "limit_exceeded", "not_regular", "unreadable"}


def seeds(folder: Path) -> None:
    from PIL import Image

    from consentry.testing.samples import synthetic_scene, write_video

    scene = synthetic_scene(1, (64, 48))
    for fmt, options in [("JPEG", {"quality": 70}), ("PNG", {}), ("BMP", {}), ("TIFF", {}),
                         ("WEBP", {"quality": 70}), ("GIF", {})]:
        buf = io.BytesIO()
        scene.save(buf, format=fmt, **options)
        (folder / f"still.{fmt.lower()}").write_bytes(buf.getvalue())
    frames = [synthetic_scene(i, (64, 48)) for i in range(3)]
    for fmt in ("GIF", "PNG", "WEBP", "TIFF"):
        buf = io.BytesIO()
        frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=100)
        (folder / f"animated.{fmt.lower()}").write_bytes(buf.getvalue())
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    scene.save(buf, format="JPEG", exif=exif)
    (folder / "oriented.jpg").write_bytes(buf.getvalue())
    for ext, codec in (("mp4", "libx264"), ("mkv", "libx264"), ("avi", "mpeg4")):
        write_video(folder / f"clip.{ext}", frames=4, fps=4, size=(64, 48), codec=codec)


def test_one_input(data: bytes) -> None:
    FILE.write_bytes(data)
    report = ANALYSER.analyse(FILE)
    if report.error_code is not None and report.error_code not in KNOWN_CODES:
        raise AssertionError(f"unexpected error code {report.error_code}: {report.error}")
    if report.status.value == "ok" and report.kind is None:
        raise AssertionError("an ok report without a media kind")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    run(test_one_input, seeds)
