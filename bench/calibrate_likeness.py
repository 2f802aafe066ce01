"""Calibrate the likeness threshold: false-match and true-match rates of the faces pipeline
(HOG + 5 landmarks + quality gate + dlib ResNet descriptor) on ../shared data.

Different identities: pairs of DFDC REAL crops (consenting paid actors; one crop per video,
so two crops can show the same actor: a "false match" there is an upper bound, and the
closest ones are listed to be looked at), and pairs of faces from different held-out
FF++ videos. Same identity: faces from different moments (>= 2 s apart) of the same
held-out FF++ REAL video, compared one to one ("pair") and as the matcher decides (one
enrolment face against the median of a 3-face track from elsewhere in the video).

Held out (never used here): the proof-test videos 183, 253 and every actor video.

    .venv/bin/python -m bench.calibrate_likeness [--dfdc 1500] [--threshold 0.55]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
import time
from pathlib import Path

import av
import numpy as np

from consentry.signals.faces.embed import embed_chips
from consentry.signals.faces.finder import FaceFinder

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FFPP = SHARED / "data/deepfake-dev/mudouble__FaceForensics-Detection_Website/media/in_out_videos"
HELD_OUT_VIDEOS = ["469", "481", "585", "599", "672", "720", "866", "878"]  # not 183/253
DFDC_SETS = [SHARED / "data/deepfake-dev", SHARED / "data/dfdc-faces"]  # labels.tsv in each
THRESHOLDS = [0.40, 0.45, 0.50, 0.55, 0.60, 0.65]


def dfdc_crops(limit: int, seed: int = 0) -> list[Path]:
    seen: dict[str, Path] = {}
    for root in DFDC_SETS:
        with open(root / "labels.tsv", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if row["label"] == "REAL" and "faces_224/" in row["file"]:
                    seen.setdefault(Path(row["file"]).name, root / row["file"])
    names = sorted(seen)
    random.Random(seed).shuffle(names)
    return [seen[n] for n in names[:limit]]


def embed_crops(paths: list[Path], finder: FaceFinder) -> tuple[np.ndarray, list[Path]]:
    """Descriptors of the crops in which a matchable face was found, and those crops."""
    from PIL import Image

    chips, used = [], []
    for path in paths:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        # Crops are cut tight around the face: pad so the detector sees the whole head.
        rgb = np.pad(rgb, ((48, 48), (48, 48), (0, 0)), mode="edge")
        faces = [f for f in finder.find(rgb) if f.matchable and f.chip is not None]
        if faces:
            chips.append(max(faces, key=lambda f: f.size).chip)
            used.append(path)
    return embed_chips(chips), used


def video_faces(path: Path, finder: FaceFinder, per_second: float = 1.0) -> list[tuple[float, np.ndarray]]:
    """(timestamp, descriptor) of the largest matchable face of frames sampled at 1/s."""
    out: list[tuple[float, np.ndarray]] = []
    chips, times = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        step = max(1, int(fps / per_second))
        for index, frame in enumerate(container.decode(stream)):
            if index % step:
                continue
            faces = [f for f in finder.find(frame.to_ndarray(format="rgb24")) if f.matchable]
            if faces:
                chips.append(max(faces, key=lambda f: f.size).chip)
                times.append(index / fps)
    for t, vec in zip(times, embed_chips(chips), strict=True):
        out.append((t, vec))
    return out


def rates(distances: np.ndarray, thresholds: list[float]) -> list[float]:
    return [float((distances <= t).mean()) if len(distances) else float("nan") for t in thresholds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dfdc", type=int, default=1500, help="DFDC REAL crops to use")
    parser.add_argument("--threshold", type=float, default=None, help="report this one too")
    args = parser.parse_args()
    thresholds = sorted(set(THRESHOLDS + ([args.threshold] if args.threshold else [])))
    finder = FaceFinder()
    started = time.perf_counter()

    crops = dfdc_crops(args.dfdc)
    dfdc, used = embed_crops(crops, finder)
    print(f"DFDC REAL crops: {len(crops)}, usable faces {len(dfdc)} (no matchable face: "
          f"{len(crops) - len(used)})")
    iu = np.triu_indices(len(dfdc), k=1)
    diff_dfdc = np.linalg.norm(dfdc[iu[0]] - dfdc[iu[1]], axis=1)

    videos = {name: video_faces(FFPP / f"original/youtube/c40/videos/{name}.mp4", finder)
              for name in HELD_OUT_VIDEOS}
    same_pairs, same_tracks = [], []
    for faces in videos.values():
        for (ta, va), (tb, vb) in itertools.combinations(faces, 2):
            if abs(ta - tb) >= 2.0:
                same_pairs.append(float(np.linalg.norm(va - vb)))
        for i, (t_enrol, v_enrol) in enumerate(faces):  # enrol one face, match 3-face tracks
            rest = [v for t, v in faces if abs(t - t_enrol) >= 2.0]
            for j in range(0, len(rest) - 2, 3):
                track = np.stack(rest[j:j + 3])
                same_tracks.append(float(np.median(np.linalg.norm(track - v_enrol, axis=1))))
            if i >= 4:
                break
    cross = [float(np.linalg.norm(va - vb))
             for (na, fa), (nb, fb) in itertools.combinations(videos.items(), 2)
             for _, va in fa for _, vb in fb]
    same_pairs_a, same_tracks_a, cross_a = map(np.array, (same_pairs, same_tracks, cross))

    print(f"held-out FF++ REAL videos: {len(videos)}, faces {sum(len(f) for f in videos.values())}")
    print(f"elapsed {time.perf_counter() - started:.0f} s\n")
    print("threshold | false-match DFDC pairs | false-match cross-video | true-match pairs "
          "| true-match tracks")
    for t, fm, fx, tm, tt in zip(thresholds, rates(diff_dfdc, thresholds), rates(cross_a, thresholds),
                                 rates(same_pairs_a, thresholds), rates(same_tracks_a, thresholds),
                                 strict=True):
        print(f"{t:9.2f} | {fm:8.4%} of {len(diff_dfdc):,} | {fx:8.4%} of {len(cross_a):,} "
              f"| {tm:7.2%} of {len(same_pairs_a):,} | {tt:7.2%} of {len(same_tracks_a):,}")
    for label, arr in (("DFDC different", diff_dfdc), ("cross-video", cross_a),
                       ("same pairs", same_pairs_a), ("same tracks", same_tracks_a)):
        q = np.percentile(arr, [0.1, 1, 5, 50, 95, 99]) if len(arr) else []
        print(f"{label:15s} percentiles 0.1/1/5/50/95/99: {' '.join(f'{v:.3f}' for v in q)}")
    order = np.argsort(diff_dfdc)[:8]
    print("\nclosest DFDC pairs (look at them: same actor in two videos?):")
    for k in order:
        a, b = iu[0][k], iu[1][k]
        print(f"  {diff_dfdc[k]:.3f}  {used[a].name}  {used[b].name}")


if __name__ == "__main__":
    main()
