"""The likeness proof on FF++ c40 videos, with the distances behind each decision (the
threshold was calibrated on other data: bench/calibrate_likeness.py).

Enrols 253 from frame 45 of its own video and actor 08 from frame 120 of
08__podium_speech_happy, scans the proof videos with the faces signal (default 2 frames/s)
and prints, per video, each track's distance to the enrolled person.

    .venv/bin/python -m bench.likeness_proof [--fps 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from consentry.cli.person import analyse_photos
from consentry.match.likeness.index import LikenessIndex
from consentry.match.likeness.matcher import THRESHOLD
from consentry.match.likeness.service import one_face
from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals.faces.embed import embed_chips
from consentry.signals.faces.signal import FacesSignal
from consentry.signals.options import FacesOptions
from consentry.testing.faces import save_png, video_frame

ROOT = Path(__file__).resolve().parents[1]
FFPP = ROOT.parent / "shared/data/deepfake-dev/mudouble__FaceForensics-Detection_Website/media/in_out_videos"
YT, ACT, MAN = FFPP / "original/youtube/c40/videos", FFPP / "original/actors/c40/videos", FFPP / "manipulate"
CASES = {
    ("253", YT / "253.mp4", 45): [
        (MAN / "Deepfakes/c40/videos/183_253.mp4", True), (MAN / "FaceSwap/c40/videos/183_253.mp4", True),
        (YT / "183.mp4", False), (MAN / "Face2Face/c40/videos/183_253.mp4", False)],
    ("08", ACT / "08__podium_speech_happy.mp4", 120): [(ACT / "08__talking_against_wall.mp4", True)] + [
        (p, False) for p in sorted(ACT.glob("*.mp4")) if not p.name.startswith("08__")],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fps", type=float, default=2.0)
    args = parser.parse_args()
    import tempfile

    analyser = Analyser(ScanSettings(options=(FacesOptions(faces_fps=args.fps),)), [FacesSignal])
    print(f"threshold {THRESHOLD}, faces sampled at {args.fps}/s")
    with tempfile.TemporaryDirectory() as tmp:
        for (who, source, frame), videos in CASES.items():
            photo = save_png(video_frame(source, frame), Path(tmp) / f"{who}.png")
            enrolled = embed_chips([one_face(analyse_photos([photo])[0]).chip])
            index = LikenessIndex(enrolled, __import__("numpy").array([1]), {1: who})
            for video, expected in videos:
                report = analyser.analyse(video)
                dists = []
                for track in report.results["faces"].payload.tracks:
                    chips = [d.chip for d in track.detections if d.matchable and d.chip is not None]
                    if chips:
                        dists.append(index.track_distances(embed_chips(chips))[1])
                best = min(dists) if dists else float("nan")
                verdict = "match" if best <= THRESHOLD else "no match"
                ok = "ok" if (best <= THRESHOLD) == expected else "WRONG"
                name = "/".join(video.parts[-4:]) if "manipulate" in video.parts else video.name
                print(f"enrolled {who:3s} {name:48s} tracks {len(dists):2d}  nearest track "
                      f"{best:.3f}  {verdict:8s} {ok}")


if __name__ == "__main__":
    main()
