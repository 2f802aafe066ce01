"""Manipulation detector benchmark: faces scored per second (onnxruntime, 2 threads), labelled
DFDC crops scored per second by ``eval detector``'s path (the scan's own analysis,
consentry.detector.scan_scores) and a 60 s 720p video scanned with faces + manipulation.

The video is built in a temporary folder from ../shared exactly as bench_faces builds it (the
FF++ c40 720p YouTube originals concatenated, 1280x720 at 30 fps, 60 s); nothing is committed.

    .venv/bin/python -m bench.bench_detector [--skip-video]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.bench_faces import DEV, cpu_seconds, make_clip
from consentry.detector.scoring import Scorer
from consentry.testing.faces import real_crops


def bench_scoring(batch: int, repeats: int = 5) -> None:
    scorer = Scorer(threads=2)
    crops = [np.asarray(Image.open(p).convert("RGB")) for p in real_crops(DEV, batch)]
    scorer.score(crops)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        scorer.score(crops, batch=batch)
    wall = time.perf_counter() - started
    print(f"scoring {scorer.info.size} px crops, batch {batch}, 2 threads: "
          f"{batch * repeats / wall:.0f} faces/s (incl. resizing 224->{scorer.info.size})")
    started = time.perf_counter()
    scorer.occlusion_map(crops[0])
    print(f"occlusion heatmap (8x8 grid, 65 forward passes): {time.perf_counter() - started:.2f} s")


def bench_eval_path(n: int = 200) -> None:
    """What calibration and ``eval detector`` cost per file: each goes through the scan."""
    from consentry.detector.data import Row
    from consentry.detector.scan_scores import score_rows

    rows = [Row(p, "REAL", "", "dfdc", "image") for p in real_crops(DEV, n)]
    cpu0, started = cpu_seconds(), time.perf_counter()
    scored = score_rows(rows)
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu0
    ok = sum(1 for x in scored if x.scores is not None)
    print(f"eval path (scan analysis, faces + manipulation, 1 worker): {len(rows)} DFDC crops "
          f"in {wall:.1f} s wall, {cpu:.1f} s CPU: {len(rows) / wall:.0f} files/s ({ok} scored)")


def bench_video(tmp: Path) -> None:
    from consentry.pipeline.analysis import Analyser
    from consentry.settings import ScanSettings
    from consentry.signals.faces.signal import FacesSignal
    from consentry.signals.manipulation import ManipulationSignal
    from consentry.signals.options import FacesOptions

    clip = make_clip(tmp / "clip.mp4")
    for signals in ([FacesSignal], [FacesSignal, ManipulationSignal]):
        analyser = Analyser(ScanSettings(options=(FacesOptions(faces_fps=2.0),)), signals)
        cpu0, started = cpu_seconds(), time.perf_counter()
        report = analyser.analyse(clip)
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu0
        names = "+".join(s.name for s in signals)
        extra = ""
        if "manipulation" in report.as_json():
            m = report.as_json()["manipulation"]
            n = sum(len(t["timeline"]) for t in m["tracks"])
            extra = f"; {len(m['tracks'])} tracks, {n} faces scored, item score {m['score']}"
        print(f"video 60 s 1280x720 30 fps, {names} at 2 frames/s: {wall:.1f} s wall, {cpu:.1f} s CPU{extra}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-video", action="store_true")
    args = ap.parse_args()
    for batch in (1, 8, 32):
        bench_scoring(batch)
    bench_eval_path()
    if not args.skip_video:
        with tempfile.TemporaryDirectory() as tmp:
            bench_video(Path(tmp))


if __name__ == "__main__":
    main()
