"""A banked photo turned into a video, or hidden in frame 2 of an animation, is matched by the
photo bank (its PDQ threshold and quality gate), and the match names the frame; a video's
frames can be banked as stills. Hostile media are built here with the project's own code."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from consentry.testing.hostile import hide_in_frames, still_as_video
from consentry.testing.samples import synthetic_scene, write_video
from tests.conftest import THREATEXCHANGE, need

PHOTO = THREATEXCHANGE / "pdq" / "data" / "bridge-mods" / "aaa-orig.jpg"


@pytest.fixture
def banked(run_cli, tmp_path: Path) -> Image.Image:
    need(PHOTO)
    assert run_cli("bank", "create", "helpline", "--kind", "ncii").code == 0
    assert run_cli("bank", "add", "helpline", str(PHOTO)).code == 0
    return Image.open(PHOTO)


def _pdq_matches(line: dict) -> list[dict]:
    return [m for m in line.get("matches") or [] if m["signal"] == "pdq"]


def test_a_banked_photo_as_a_video_or_an_animation_frame_is_blocked(run_cli, tmp_path: Path,
                                                                      banked: Image.Image) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    still_as_video(folder / "photo-as-video.mp4", banked, seconds=3, lead_in=1.0)
    hide_in_frames(folder / "frame2.gif", banked, "GIF", position=1)
    write_video(folder / "unrelated.mp4", frames=60)
    synthetic_scene(3).save(folder / "unrelated.png")
    result = run_cli("scan", "--json", "--signals", "hash", str(folder))
    by_name = {Path(line["path"]).name: line for line in result.lines}
    assert result.code == 1
    for name in ("photo-as-video.mp4", "frame2.gif"):
        line = by_name[name]
        hits = _pdq_matches(line)
        assert hits and hits[0]["bank"] == "helpline" and hits[0]["transform"] == "video-frame", line
        assert hits[0]["frame"] is not None and hits[0]["timestamp"] is not None
        assert line["verdict"]["action"] == "block"
    video_hit = _pdq_matches(by_name["photo-as-video.mp4"])[0]
    assert video_hit["timestamp"] >= 1.0  # the photo appears after the one-second lead-in
    for name in ("unrelated.mp4", "unrelated.png"):
        assert by_name[name]["matches"] == [] and by_name[name]["verdict"]["action"] == "allow"


def test_a_videos_frames_banked_as_stills_match_a_still_taken_from_it(run_cli, tmp_path: Path) -> None:
    need(PHOTO)
    video = still_as_video(tmp_path / "clip.mp4", Image.open(PHOTO), seconds=3, lead_in=0.0)
    assert run_cli("bank", "create", "videos", "--kind", "deepfake").code == 0
    assert run_cli("bank", "add", "videos", "--frames-as-stills", str(video)).code == 0
    import av

    with av.open(str(video)) as container:
        frame = next(container.decode(video=0)).to_image()
    frame.save(tmp_path / "screenshot.png")
    line = run_cli("scan", "--json", "--signals", "hash", str(tmp_path / "screenshot.png")).lines[0]
    assert any(m["bank"] == "videos" for m in _pdq_matches(line)), line
