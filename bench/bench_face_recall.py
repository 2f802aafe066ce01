"""Face recall per face size, and detector time, for two face-finding paths on the same
pictures: dlib HOG on the colour picture (before issue 17) and on the grey picture (now).

REAL DFDC crops from ../shared/data/dfdc-faces pasted at each size on 1280x720 pictures
(consentry.testing.face_recall); a face counts as found when a detection's centre lies in its
crop at a plausible width.

    .venv/bin/python -m bench.bench_face_recall [--faces 200] [--sizes 40 60 80 100 140 200]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import threadpoolctl

from consentry.signals.faces.finder import FaceFinder, FinderSettings
from consentry.testing.face_recall import crop_paths, planted_pictures, recall

ROOT = Path(__file__).resolve().parents[1]
DFDC = ROOT.parent / "shared/data/dfdc-faces"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--faces", type=int, default=200, help="faces per size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 60, 80, 100, 140, 200])
    parser.add_argument("--offset", type=int, default=5000, help="first crop used")
    args = parser.parse_args()
    threadpoolctl.threadpool_limits(1)
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    paths = {"colour (before)": FaceFinder(replace(FinderSettings(), grey=False)),
             "grey (now)": FaceFinder(FinderSettings())}
    crops = crop_paths(DFDC, args.faces, args.offset)
    print("| crop side (face ~half) | faces | " + " | ".join(f"{n}: recall" for n in paths)
          + " | " + " | ".join(f"{n}: CPU ms/picture" for n in paths) + " |")
    print("|---:|---:|" + "---:|" * (2 * len(paths)))
    for side in args.sizes:
        pictures = planted_pictures(crops, side, seed=side)
        cells, times = [], []
        for finder in paths.values():
            started = time.process_time()
            hits, total = recall(pictures, finder.detect_boxes)
            times.append((time.process_time() - started) / len(pictures) * 1000)
            cells.append(f"{hits / total:.1%} ({hits})")
        print(f"| {side} | {total} | " + " | ".join(cells) + " | "
              + " | ".join(f"{t:.0f}" for t in times) + " |")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
