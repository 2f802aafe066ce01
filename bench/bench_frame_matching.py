"""The extra cost of matching a video's frames against the photo banks (issue 11: a banked photo
turned into a video must match): the 60 s 720p bench clip hashed at 1 frame/s, its distinct frame
hashes searched in an MIH index of 1M PDQ hashes, beside the vPDQ search the video already has.

    .venv/bin/python -m bench.bench_frame_matching [--bank 1000000] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_scan import make_clip
from consentry.pipeline.analysis import Analyser
from consentry.settings import ScanSettings
from consentry.signals.hashes import HashSignal
from consentry.signals.hashing.hash_types.pdq import PdqType
from consentry.signals.hashing.mih import MIHIndex, hex_to_words

THRESHOLD = 31


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=int, default=1_000_000, help="PDQ hashes in the photo bank")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip60.mp4")
        started = time.perf_counter()
        report = Analyser(ScanSettings(signals=("hash",)), [HashSignal]).analyse(clip)
        hash_s = time.perf_counter() - started
    frames = PdqType.frame_queries(report.findings())
    queries = hex_to_words(q.value for q in frames)
    rng = np.random.default_rng(11)
    index = MIHIndex(THRESHOLD)
    started = time.perf_counter()
    index.add(rng.integers(0, 2**64, size=(args.bank, 4), dtype=np.uint64), np.arange(args.bank))
    build_s = time.perf_counter() - started
    index.search(queries, THRESHOLD)  # warm
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        index.search(queries, THRESHOLD)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"clip: 60 s 1280x720 30 fps, hashed at 1 frame/s in {hash_s:.2f} s "
          f"({len(report.findings()['vpdq'])} frames, {len(frames)} distinct)")
    print(f"photo bank: {args.bank:,} PDQ hashes in one MIH index (built in {build_s:.1f} s)")
    print(f"frames searched as photos: median {median * 1000:.2f} ms per video "
          f"(min {min(times) * 1000:.2f}, max {max(times) * 1000:.2f}, {args.runs} runs) = "
          f"{median / hash_s:.1%} of hashing the video")


if __name__ == "__main__":
    main()
