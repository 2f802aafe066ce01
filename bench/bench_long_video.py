"""Peak memory and time of hashing a long video (vPDQ at 1 frame/s), whole and split.

The video is made here and not committed: a short clip of synthetic frames encoded once,
then its packets written again and again with shifted timestamps (no re-encoding), so a
two-hour 4K file takes seconds to make. Each analysis runs in a fresh process and reports
its own peak RSS (VmHWM; segment workers: ru_maxrss of its children), so the figures are the analysis's alone.

    .venv/bin/python bench/bench_long_video.py --minutes 120 --width 3840 --height 2160
    .venv/bin/python bench/bench_long_video.py --minutes 10 --split 2
    .venv/bin/python bench/bench_long_video.py --minutes 120 --split 1 2 --ray 2   # on Ray
    # frames no signal samples skipped undecoded, against decoding every one (30 fps, 1 fps
    # hashed, keyframe every 2 s), with the default limits:
    .venv/bin/python bench/bench_long_video.py --minutes 5 --width 1920 --height 1080 --fps 30 \
        --decode skip full --default-limits
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np


def make_video(path: Path, minutes: float, width: int, height: int, fps: int, clip_s: int) -> Path:
    import av

    from consentry.testing.samples import synthetic_scene

    clip = path.with_suffix(".clip.mp4")
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps, 1),
                                options={"preset": "ultrafast", "g": str(fps * 2)})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        base = np.asarray(synthetic_scene(1, (width, height)))
        for i in range(clip_s * fps):
            rgb = np.ascontiguousarray(np.roll(base, i * 16, axis=1))
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    loops = max(1, round(minutes * 60 / clip_s))
    with av.open(str(clip)) as src, av.open(str(path), "w") as out:
        in_stream = src.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        packets = [p for p in src.demux(in_stream) if p.size]
        step = in_stream.duration or (packets[-1].pts - packets[0].pts + packets[1].pts - packets[0].pts)
        for loop in range(loops):
            for p in packets:
                p.stream = out_stream
                shift = loop * step
                pts, dts = p.pts, p.dts
                p.pts, p.dts = pts + shift, dts + shift
                out.mux(p)
                p.pts, p.dts = pts, dts
    clip.unlink()
    return path


def measure(path: Path, split: int, skip: bool = True, default_limits: bool = False,
            ray_actors: int = 0) -> dict[str, float]:
    """Hash ``path`` in a child process (``ray_actors``: on that many Ray actors of a private
    cluster, the segments spread over them); its wall time, peak RSS and frames hashed."""
    limits = "Limits()" if default_limits else "Limits(max_decode_s=1e9, max_frames=10**9)"
    code = f"""
import json, resource, sys, time
from pathlib import Path
from consentry.pipeline.analysis import Analyser
from consentry.settings import Limits, ScanSettings
from consentry.signals import catalog
from consentry.signals.options import HashOptions
import threadpoolctl
# One BLAS thread, as in a scan's worker and a Ray actor. After the imports: threadpoolctl
# limits the libraries loaded so far (numpy's OpenBLAS), not ones loaded later.
threadpoolctl.threadpool_limits(1)
settings = ScanSettings(signals=("hash",), options=(HashOptions(video_fps=1.0),),
                        limits={limits})
classes = catalog.resolve(("hash",))
if not {skip}:  # decode every frame, as before frames were skipped
    decode = Analyser._decode_video
    Analyser._decode_video = lambda self, s, f, r, skip: decode(self, s, f, r, skip=False)
actor_rss = []
if {ray_actors}:
    import dataclasses
    from consentry.pipeline.ray_engine import RayEngine
    settings = dataclasses.replace(settings, segments={split}, segment_min_s=0.0)
    engine = RayEngine(settings, classes, actors={ray_actors})
    pids = engine.actor_pids()  # started: its start-up is not timed
    t = time.monotonic()
    (report,) = engine.analyse_files([Path({str(path)!r})])
    wall = time.monotonic() - t
    for pid in pids:
        status = open(f"/proc/{{pid}}/status").read().splitlines()
        actor_rss.append(int(next(l for l in status if l.startswith("VmHWM")).split()[1]) / 1024)
    engine.close()
elif {split} > 1:
    t = time.monotonic()
    from consentry.pipeline.segments import analyse_split
    report = analyse_split(Path({str(path)!r}), settings, classes, {split})
else:
    t = time.monotonic()
    from consentry.pipeline.analysis import Analyser
    report = Analyser(settings, classes).analyse(Path({str(path)!r}))
if not {ray_actors}:
    wall = time.monotonic() - t
# VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec
own = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads (FFmpeg's too)
children = resource.getrusage(resource.RUSAGE_CHILDREN)  # segment processes
print(json.dumps({{"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "child_cpu_s": children.ru_utime + children.ru_stime,
                  "peak_rss_mb": own, "peak_child_rss_mb": kids, "actor_peak_rss_mb": actor_rss,
                  "status": report.status.value, "error": report.error,
                  "hashes": len(report.as_json().get("vpdq") or []),
                  "frames": report.info.frame_count if report.info else None}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--width", type=int, default=3840)
    parser.add_argument("--height", type=int, default=2160)
    parser.add_argument("--fps", type=int, default=1, help="the video's own frame rate")
    parser.add_argument("--clip-seconds", type=int, default=30)
    parser.add_argument("--split", type=int, nargs="*", default=[1])
    parser.add_argument("--decode", nargs="*", choices=["skip", "full"], default=["skip"],
                        help="skip: frames no signal samples are not decoded; full: every one")
    parser.add_argument("--ray", type=int, default=0, metavar="ACTORS",
                        help="analyse on this many Ray actors (a private cluster), segments "
                        "spread over them")
    parser.add_argument("--default-limits", action="store_true",
                        help="the default limits (else decode time and frames unlimited)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.mp4"
        t = time.monotonic()
        make_video(path, args.minutes, args.width, args.height, args.fps, args.clip_seconds)
        print(f"made {args.minutes:g} min {args.width}x{args.height} at {args.fps} fps: "
              f"{path.stat().st_size / 1e6:.0f} MB in {time.monotonic() - t:.0f} s", flush=True)
        for split in args.split:
            for decode in args.decode:
                result = measure(path, split, decode == "skip", args.default_limits, args.ray)
                print(json.dumps({"minutes": args.minutes, "size": f"{args.width}x{args.height}",
                                  "fps": args.fps, "segments": split, "decode": decode,
                                  "engine": f"ray ({args.ray} actors)" if args.ray else "local",
                                  **result}), flush=True)
    print(f"(this process's own peak: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
