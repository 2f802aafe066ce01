"""The sexual signal on neutral photographs and generated media (never sexual imagery).

The detector is NudeNet's bundled model; what these tests pin is our decoding of it (identical
to NudeNet's own on the same pixels), the documented score rule, and that ordinary photographs,
shapes and videos score low.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from consentry.signals.nudenet_model import BodyRegionDetector, Detection, model_path
from consentry.signals.sexual import SUGGESTIVE_WEIGHT, SexualSignal, frame_score
from consentry.testing.samples import synthetic_scene, write_video
from tests.conftest import THREATEXCHANGE, need

pytestmark = pytest.mark.skipif(model_path() is None, reason="nudity extra (NudeNet) not installed")

LOW = 0.2  # neutral media must stay well under the default policy threshold (0.5)


@pytest.fixture(scope="module")
def detector() -> BodyRegionDetector:
    path = model_path()
    assert path is not None
    return BodyRegionDetector(path)


def neutral_photos() -> dict[str, np.ndarray]:
    from skimage import data

    photos = {name: getattr(data, name)() for name in ("astronaut", "coffee", "chelsea", "rocket")}
    bridge = THREATEXCHANGE / "pdq" / "data" / "bridge-mods"
    if bridge.exists():
        for path in sorted(bridge.glob("*.jpg"))[:4]:
            photos[path.name] = np.asarray(Image.open(path).convert("RGB"))
    return photos


def test_documented_score_rule() -> None:
    box = (0.0, 0.0, 10.0, 10.0)
    assert frame_score([]) == 0.0
    assert frame_score([Detection("FACE_FEMALE", 0.99, box), Detection("FEET_EXPOSED", 0.9, box)]) == 0
    covered = [Detection("BUTTOCKS_COVERED", 0.9, box)]
    assert frame_score(covered) == pytest.approx(0.9 * SUGGESTIVE_WEIGHT)
    assert frame_score([*covered, Detection("FEMALE_BREAST_EXPOSED", 0.6, box)]) == pytest.approx(0.6)


def test_matches_nudenet_reference_decoding(detector: BodyRegionDetector) -> None:
    """Same labels, confidences and boxes as NudeNet's own NudeDetector on the same image."""
    from nudenet import NudeDetector
    from skimage import data

    rgb = data.astronaut()
    ours = detector.detect(rgb)
    theirs = NudeDetector().detect(np.ascontiguousarray(rgb[:, :, ::-1]))  # it takes BGR arrays
    assert [d.label for d in ours] == [t["class"] for t in theirs] == ["FACE_FEMALE"]
    for d, t in zip(ours, theirs, strict=True):
        assert d.confidence == pytest.approx(t["score"], abs=1e-4)
        x, y, w, h = t["box"]
        assert np.allclose(d.box, (x, y, x + w, y + h), atol=1.5)


def test_neutral_photographs_score_low() -> None:
    signal = SexualSignal()
    signal.setup(None)
    from consentry.signals.base import ItemContext
    from consentry.types import Frame, MediaInfo, MediaKind

    for name, rgb in neutral_photos().items():
        if rgb.ndim == 2:
            rgb = np.stack([rgb] * 3, axis=-1)
        info = MediaInfo(MediaKind.IMAGE, "png", "png", rgb.shape[1], rgb.shape[0])
        ctx = ItemContext(Path(name), info, None)  # type: ignore[arg-type]
        result = signal.compute_image(Frame(0, 0.0, rgb), ctx).fields["sexual"]
        assert result["score"] < LOW, (name, result)
        assert all(r["label"] not in ("FACE_FEMALE", "FACE_MALE") for r in result["regions"])


def test_synthetic_shapes_and_blank_frames_score_zero(detector: BodyRegionDetector) -> None:
    for seed in range(6):
        assert frame_score(detector.detect(np.asarray(synthetic_scene(seed)))) < LOW
    for rgb in (np.zeros((10, 10, 3), np.uint8), np.full((3000, 40, 3), 255, np.uint8)):
        assert frame_score(detector.detect(rgb)) == 0.0


def test_scan_reports_sexual_for_images_and_sampled_video_frames(run_cli, tmp_path: Path) -> None:
    media = tmp_path / "media"  # beside, not around, the test database
    media.mkdir()
    synthetic_scene(3).save(media / "shapes.png")
    write_video(media / "clip.mp4", frames=90, fps=30)  # 3 s: 3 frames sampled at 1 fps
    result = run_cli("scan", str(media), "--signals", "sexual", "--json", "--report",
                     str(tmp_path / "r.html"))
    assert result.code == 0, result.stderr
    assert (tmp_path / "r.html").read_text().count("sexual content: score 0.00") == 2
    by_name = {Path(line["path"]).name: line for line in result.lines}
    image, video = by_name["shapes.png"]["sexual"], by_name["clip.mp4"]["sexual"]
    assert image["score"] < LOW and image["model"] == "nudenet-3.4-320n"
    assert video["frames_scored"] == 3 and video["score"] < LOW
    assert video["top_frame"]["frame"] in (0, 30, 60)
    assert by_name["clip.mp4"]["verdict"]["action"] == "allow"


def test_shared_sample_video_scores_low(run_cli) -> None:
    video = need(THREATEXCHANGE / "tmk" / "sample-videos" / "chair-20-sd-bar.mp4")
    result = run_cli("scan", str(video), "--signals", "sexual", "--json")
    assert result.code == 0, result.stderr
    sexual = result.lines[0]["sexual"]
    assert sexual["frames_scored"] >= 10 and sexual["score"] < LOW


def test_video_sampling_rate_is_configurable(run_cli, tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.mp4", frames=60, fps=30)  # 2 s
    result = run_cli("scan", str(clip), "--signals", "sexual", "--sexual-fps", "3", "--json")
    assert result.code == 0, result.stderr
    assert result.lines[0]["sexual"]["frames_scored"] == 6  # every 10th frame
