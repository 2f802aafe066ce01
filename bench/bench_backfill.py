"""Backfill throughput on the same files: the local engine against Ray with 1 and 2 actors.

Files: synthetic 640x480 JPEGs (consentry.testing.samples), made here. Each configuration
runs the real `consentry backfill run` into its own new SQLite database (so nothing is linked
to an earlier run); the wall time counts the command's start, the listing, analysis,
decisions and storage. Ray runs join one local cluster started beforehand (its start-up is
given separately, and a Ray driver's connection is inside the wall time).

    .venv/bin/python bench/bench_backfill.py --files 1000 --signals hash
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--signals", default="hash")
    parser.add_argument("--configs", nargs="*", default=["local:2", "ray:1", "ray:2"])
    args = parser.parse_args()
    from consentry.testing.samples import synthetic_scene

    cluster = None
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        for i in range(args.files):
            synthetic_scene(i).save(media / f"img-{i:05d}.jpg", quality=90)
        for n, config in enumerate(args.configs):
            name, _, count = config.partition(":")
            workers = int(count or 2)
            cmd = [sys.executable, "-m", "consentry", "--db", f"sqlite:///{tmp}/run-{n}.db",
                   "backfill", "run", str(media), "--signals", args.signals,
                   "--workers", str(workers), "--json"]
            started = 0.0
            if name == "ray":
                import ray

                if cluster is None:  # one cluster for the Ray runs, started outside the timing
                    t = time.monotonic()
                    ray.init(num_cpus=max(int(c.partition(":")[2] or 2) for c in args.configs),
                             include_dashboard=False, log_to_driver=False)
                    cluster = ray.get_runtime_context().gcs_address
                    started = time.monotonic() - t
                cmd += ["--engine", "ray", "--address", cluster]
            t = time.monotonic()
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            wall = time.monotonic() - t
            items = sum(1 for line in out.stdout.splitlines() if line.startswith("{"))
            print(json.dumps({"engine": name, "workers": workers, "files": args.files,
                              "signals": args.signals, "exit": out.returncode,
                              "cluster_start_s": round(started, 1), "wall_s": round(wall, 1),
                              "items_per_s": round(items / wall, 1)}), flush=True)


if __name__ == "__main__":
    main()
