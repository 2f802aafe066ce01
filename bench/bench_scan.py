"""Scan speed: 1080p JPEG folders through `consentry scan --signals hash`, and vPDQ of a 60 s
720p clip. Prints a Markdown table for docs/performance.md.

    .venv/bin/python -m bench.bench_scan [--images 400] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from consentry.media.image import decode_rgb, open_image
from consentry.settings import Limits
from consentry.signals import pdq
from consentry.testing.samples import synthetic_scene


def make_jpegs(folder: Path, count: int) -> list[Path]:
    """Distinct 1920x1080 photos-like JPEGs: shapes plus sensor-like noise, quality 85."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        base = np.asarray(synthetic_scene(i, (1920, 1080)), dtype=np.int16)
        noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        path = folder / f"img-{i:04d}.jpg"
        Image.fromarray(noisy).save(path, quality=85)
        paths.append(path)
    return paths


def make_clip(path: Path, seconds: int = 60, fps: int = 30, size: tuple[int, int] = (1280, 720)) -> Path:
    import av

    scene = np.asarray(synthetic_scene(99, (size[0] * 3, size[1])))
    rng = np.random.default_rng(1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        frames = seconds * fps
        for i in range(frames):
            x = int(i * (scene.shape[1] - size[0]) / frames)
            rgb = scene[:, x : x + size[0]].astype(np.int16) + rng.integers(-6, 7, (size[1], size[0], 1))
            frame = av.VideoFrame.from_ndarray(np.clip(rgb, 0, 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def timed_cli(args: list[str], db: str) -> float:
    cmd = [sys.executable, "-m", "consentry", "--db", db, *args]
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def per_image_costs(paths: list[Path]) -> dict[str, float]:
    """Single-core milliseconds per image for each stage, and the draft-decode hash drift."""
    full_decode, draft_decode, bare_pdq, drift = [], [], [], []
    for path in paths:
        data = path.read_bytes()
        t0 = time.perf_counter()
        full = decode_rgb(open_image(data, "jpeg", Limits()), fast_jpeg=False)
        t1 = time.perf_counter()
        fast = decode_rgb(open_image(data, "jpeg", Limits()), fast_jpeg=True)
        t2 = time.perf_counter()
        h_full = pdq.compute(full)
        t3 = time.perf_counter()
        h_fast = pdq.compute(fast)
        full_decode.append(t1 - t0)
        draft_decode.append(t2 - t1)
        bare_pdq.append(t3 - t2)
        drift.append(pdq.distance(h_full.hex, h_fast.hex))
    ms = 1000.0
    return {
        "full_decode_ms": statistics.mean(full_decode) * ms,
        "draft_decode_ms": statistics.mean(draft_decode) * ms,
        "pdq_on_full_array_ms": statistics.mean(bare_pdq) * ms,
        "draft_drift_median": float(statistics.median(drift)),
        "draft_drift_max": float(max(drift)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--keep", type=Path, help="keep generated media here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="consentry-bench-"))
    images = make_jpegs(work / "jpegs", args.images)
    clip = make_clip(work / "clip-60s-720p.mp4")
    db = f"sqlite:///{work / 'bench.db'}"

    scan_s = timed_cli(["scan", "--signals", "hash", "--json", str(work / "jpegs")], db)
    full_s = timed_cli(["scan", "--signals", "hash", "--json", "--full-decode", str(work / "jpegs")], db)
    video_s = timed_cli(["scan", "--signals", "hash", "--json", str(clip)], db)
    costs = per_image_costs(images[:100])
    cores = len(os.sched_getaffinity(0))
    pdq_only_rate = cores * 1000.0 / costs["pdq_on_full_array_ms"]
    decode_only_rate = cores * 1000.0 / costs["draft_decode_ms"]

    print(f"| measure ({cores} cores, {args.images} 1920x1080 JPEGs) | value |")
    print("|---|---|")
    print(f"| `consentry scan --signals hash` (reduced-scale decode), start-up included | "
          f"{args.images / scan_s:.0f} images/s ({scan_s:.2f} s) |")
    print(f"| same with `--full-decode` | {args.images / full_s:.0f} images/s ({full_s:.2f} s) |")
    print(f"| full JPEG decode, one core | {costs['full_decode_ms']:.1f} ms/image |")
    print(f"| reduced-scale (draft) decode, one core | {costs['draft_decode_ms']:.1f} ms/image |")
    print(f"| bare pdqhash on an already decoded 1080p array, one core | "
          f"{costs['pdq_on_full_array_ms']:.1f} ms/image |")
    print(f"| ratio: scan rate / bare pdqhash rate on {cores} cores | "
          f"{(args.images / scan_s) / pdq_only_rate:.2f} |")
    print(f"| ratio: scan rate / draft decoding alone on {cores} cores | "
          f"{(args.images / scan_s) / decode_only_rate:.2f} |")
    print(f"| PDQ drift of draft vs full decode (100 images) | median {costs['draft_drift_median']:.0f}"
          f" bits, max {costs['draft_drift_max']:.0f} bits |")
    print(f"| vPDQ at 1 frame/s of a 60 s 720p H.264 clip, `consentry scan`, start-up included | "
          f"{video_s:.2f} s |")


if __name__ == "__main__":
    main()
