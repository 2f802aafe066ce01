"""Media is identified by content (not name), decoded in every supported format, and EXIF
orientation is applied before hashing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals.hashes import HashSignal
from consentry.signals.hashing import pdq
from consentry.signals.options import HashOptions
from consentry.testing.samples import astronaut, synthetic_scene, write_video


@pytest.fixture(scope="module")
def analyser() -> Analyser:
    return Analyser(ScanSettings(), [HashSignal])


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return astronaut()


def _pdq(report) -> str:  # type: ignore[no-untyped-def]
    assert report.status.value == "ok", report.error
    return report.results["hash"].fields["pdq"]["hash"]


IMAGE_FORMATS = [("JPEG", {"quality": 92}), ("PNG", {}), ("WEBP", {"quality": 92}), ("BMP", {}),
                 ("TIFF", {}), ("AVIF", {"quality": 90}), ("HEIF", {"quality": 90})]


@pytest.mark.parametrize(("fmt", "options"), IMAGE_FORMATS, ids=[f for f, _ in IMAGE_FORMATS])
def test_image_formats_hash_alike_whatever_the_name(tmp_path: Path, analyser: Analyser,
                                                    photo: Image.Image, fmt: str, options: dict) -> None:
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    reference = pdq.compute(np.asarray(photo)).hex
    path = tmp_path / "misnamed.mp4"  # the name lies; the content decides
    photo.save(path, format=fmt, **options)
    report = analyser.analyse(path)
    assert report.kind is not None and report.kind.value == "image"
    assert pdq.distance(_pdq(report), reference) <= 16  # lossy codecs move a few bits
    assert (report.info.width, report.info.height) == photo.size


def test_animated_gif_is_a_video(tmp_path: Path, analyser: Analyser) -> None:
    frames = [synthetic_scene(i, (120, 90)) for i in range(4)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=500, loop=0)
    report = analyser.analyse(path)
    assert report.kind.value == "video" and report.info.container == "gif"
    assert len(report.results["hash"].fields["vpdq"]) >= 2


def test_still_gif_is_an_image(tmp_path: Path, analyser: Analyser) -> None:
    path = tmp_path / "still.gif"
    synthetic_scene(2, (120, 90)).save(path)
    assert analyser.analyse(path).kind.value == "image"


VIDEO_FORMATS = [("mp4", "libx264"), ("mov", "libx264"), ("webm", "libvpx-vp9"),
                 ("mkv", "libx264"), ("avi", "mpeg4")]


@pytest.mark.parametrize(("ext", "codec"), VIDEO_FORMATS, ids=[e for e, _ in VIDEO_FORMATS])
def test_video_containers(tmp_path: Path, analyser: Analyser, ext: str, codec: str) -> None:
    path = write_video(tmp_path / f"clip.{ext}", frames=60, fps=30, codec=codec)
    renamed = path.rename(tmp_path / "clip.jpg")  # a misleading name changes nothing
    report = analyser.analyse(renamed)
    assert report.status.value == "ok", report.error
    assert report.kind.value == "video"
    info = report.info
    assert (info.width, info.height) == (320, 240)
    assert info.fps == pytest.approx(30, rel=0.01)
    assert info.frame_count == 60
    assert info.duration == pytest.approx(2.0, abs=0.1)
    frames = report.results["hash"].fields["vpdq"]
    assert [f["frame"] for f in frames] == [0, 30]  # 1 frame/s by default
    assert all(len(f["hash"]) == 64 for f in frames)


def test_every_frame_and_rate(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", frames=60, fps=30)
    every = Analyser(ScanSettings(options=(HashOptions(every_frame=True),)), [HashSignal]).analyse(path)
    assert len(every.results["hash"].fields["vpdq"]) == 60
    twice = Analyser(ScanSettings(options=(HashOptions(video_fps=2.0),)), [HashSignal]).analyse(path)
    assert [f["frame"] for f in twice.results["hash"].fields["vpdq"]] == [0, 15, 30, 45]


def _upright_and_tagged(photo: Image.Image, folder: Path, quality: int) -> tuple[Path, Path]:
    """The photo as is, and its pixels turned on their side tagged "rotate 90 CW to view"
    (EXIF orientation 6)."""
    upright, tagged = folder / "upright.jpg", folder / "tagged.jpg"
    photo.save(upright, quality=quality)
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.transpose(Image.Transpose.ROTATE_90).save(tagged, quality=quality, exif=exif)
    return upright, tagged


def test_exif_orientation_is_applied_before_hashing(tmp_path: Path, analyser: Analyser,
                                                    photo: Image.Image) -> None:
    upright, tagged = _upright_and_tagged(photo, tmp_path, quality=95)
    plain = tmp_path / "sideways.jpg"
    photo.transpose(Image.Transpose.ROTATE_90).save(plain, quality=95)

    h_upright, h_tagged, h_plain = (_pdq(analyser.analyse(p)) for p in (upright, tagged, plain))
    assert pdq.distance(h_upright, h_tagged) <= 10
    assert pdq.distance(h_upright, h_plain) > 60  # without the tag the hash really differs


def test_big_jpeg_keeps_its_size_and_orientation_through_the_fast_decode(
        tmp_path: Path, analyser: Analyser, photo: Image.Image) -> None:
    """Big JPEGs are hashed from a half-scale Y plane; the item still reports the file's own
    size, and EXIF orientation still applies."""
    upright, tagged = _upright_and_tagged(photo.resize((1920, 1080)), tmp_path, quality=90)

    reports = [analyser.analyse(p) for p in (upright, tagged)]
    assert (reports[0].info.width, reports[0].info.height) == (1920, 1080)
    assert (reports[1].info.width, reports[1].info.height) == (1080, 1920)  # as stored
    assert pdq.distance(_pdq(reports[0]), _pdq(reports[1])) <= 10
    full = pdq.compute(np.asarray(Image.open(upright).convert("RGB")))
    assert pdq.distance(_pdq(reports[0]), full.hex) <= 8
