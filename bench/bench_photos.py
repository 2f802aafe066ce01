"""Photos per second with every default signal, and with the fast cascade profile, through
the real pipeline (worker processes, matchers, policy, SQLite store). Issue 17.

Media, built in a temporary folder from ../shared (never committed): 1280x720 JPEGs (q88) of
synthetic shapes with sensor-like noise, each with 1-3 REAL DFDC face crops of 120-240 px.

The cascade's "realistic mix" is 90% such ordinary photos and 10% that the sexual signal must
see as exposed-body content. No sexual imagery exists in this project, so those 10% carry a
synthetic marker (a magenta and green checkerboard patch) and the bench's detector, which
runs NudeNet's real model on every picture (its cost is paid in full), adds one
``BUTTOCKS_EXPOSED`` detection at 0.9 over the patch when it sees the marker. Everything
downstream (score, cascade gates, faces, manipulation, verdicts) is the real code.

    .venv/bin/python -m bench.bench_photos [--photos 160] [--runs 3] [--workers 2]
        [--policy default|cascade|both] [--profile]

Reported: photos/s over the whole ``Pipeline.scan`` (worker start and model loading
included), median of ``--runs`` runs with the range; ``--profile`` adds each signal's CPU
time per photo in one process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from bench.bench_faces import DEV, cpu_seconds
from consentry.signals.nudenet_model import BodyRegionDetector, Detection
from consentry.testing.faces import real_crops
from consentry.testing.samples import synthetic_scene

MARK = 48  # side of the marker patch, pixels


def _marker() -> np.ndarray:
    rows, cols = np.indices((MARK, MARK)) // 8
    cells = (rows + cols) % 2  # 8-px cells: magenta at (0, 0), green at (0, 8)
    patch = np.zeros((MARK, MARK, 3), np.uint8)
    patch[cells == 0] = (255, 0, 255)
    patch[cells == 1] = (0, 255, 0)
    return patch


def has_marker(rgb: np.ndarray) -> bool:
    """The patch at (16, 16), as JPEG leaves it: magenta and green cells."""
    if rgb.shape[0] < 16 + MARK or rgb.shape[1] < 16 + MARK:
        return False
    region = rgb[16:16 + MARK, 16:16 + MARK].astype(np.int16)
    magenta = region[4, 4] - np.array((255, 0, 255))
    green = region[4, 12] - np.array((0, 255, 0))  # centres of the first two cells
    return bool(np.abs(magenta).max() < 60 and np.abs(green).max() < 60)


class MarkedBodyRegions(BodyRegionDetector):
    """NudeNet's model on every picture, plus one synthetic exposed-region detection where the
    bench's marker is (see the module docstring)."""

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        found = super().detect(rgb)
        if has_marker(rgb):
            scale = rgb.shape[1] / 1280
            box = (16 * scale, 16 * scale, (16 + MARK) * scale, (16 + MARK) * scale)
            found.append(Detection("BUTTOCKS_EXPOSED", 0.9, box))
        return found


def make_photos(folder: Path, count: int, marked_every: int = 0) -> list[Path]:
    """``count`` JPEGs; every ``marked_every``-th carries the marker (0: none)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(17)
    crops = [np.asarray(Image.open(p).convert("RGB")) for p in real_crops(DEV, 60)]
    paths = []
    for i in range(count):
        base = np.asarray(synthetic_scene(1000 + i, (1280, 720)), dtype=np.int16)
        canvas = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
        n_faces = 1 + i % 3
        slots = rng.permutation(5)[:n_faces]  # five columns: faces never overlap
        for k, slot in enumerate(slots):
            side = int(rng.integers(120, 241))
            face = Image.fromarray(crops[(i * 3 + k) % len(crops)]).resize((side, side))
            x = int(slot * 256 + rng.integers(0, 256 - min(side, 255)))
            y = int(rng.integers(80, 720 - side))
            canvas[y:y + side, x:x + side] = np.asarray(face)
        if marked_every and i % marked_every == marked_every - 1:
            canvas[16:16 + MARK, 16:16 + MARK] = _marker()
        path = folder / f"photo-{i:04d}.jpg"
        Image.fromarray(canvas).save(path, quality=88)
        paths.append(path)
    return paths


def scan_rate(paths: list[Path], policy_name: str, workers: int, db_url: str) -> tuple[float, dict]:
    """One whole ``Pipeline.scan`` of ``paths``: photos/s, and what the verdicts said."""
    from consentry.pipeline.runner import Analysis
    from consentry.pipeline.scan import Pipeline
    from consentry.policy.engine import RulesPolicy
    from consentry.policy.loader import load_default, load_file
    from consentry.settings import ScanSettings
    from consentry.store.db import open_database

    spec = load_default() if policy_name == "default" else load_file(Path(policy_name))
    # (the default policy needs no cascade field: the bench also runs on the code before it)
    settings = ScanSettings(**({"cascade": spec.cascade} if getattr(spec, "gates", ()) else {}))
    collected: dict[str, int] = defaultdict(int)

    class Count:  # a sink: what the verdicts said (skips, actions)
        def start(self, scan_id: int, total: int) -> None: ...
        def flush(self) -> None: ...
        def finish(self, summary: object) -> None: ...

        def item(self, report) -> None:  # type: ignore[no-untyped-def]
            collected["items"] += 1
            collected["errors"] += report.status.value != "ok"
            collected["faces analysed"] += "faces" in report.results
            collected["faces skipped"] += "faces" in getattr(report, "skipped", {})
            collected[f"action {report.verdict.action if report.verdict else None}"] += 1

    started, cpu = time.perf_counter(), cpu_seconds()
    analysis = Analysis(paths, settings, workers)  # workers fork and load models now
    db = open_database(db_url)
    Pipeline(db, RulesPolicy(spec)).scan(analysis, [Count()])  # type: ignore[list-item]
    wall = time.perf_counter() - started
    # CPU of this process and the (reaped) workers: what two idle cores would need
    collected["cpu ms per photo"] = round((cpu_seconds() - cpu) / len(paths) * 1000)
    return len(paths) / wall, dict(collected)


def profile(paths: list[Path], policy_name: str) -> None:
    """Each signal's CPU time per photo, in this process (one core)."""
    import threadpoolctl

    threadpoolctl.threadpool_limits(1)  # as in a worker: BLAS threads would only spin
    from bench.bench_pipeline import instrument
    from consentry.pipeline.analysis import Analyser
    from consentry.policy.loader import load_default, load_file
    from consentry.settings import ScanSettings
    from consentry.signals import catalog

    spec = load_default() if policy_name == "default" else load_file(Path(policy_name))
    settings = ScanSettings(**({"cascade": spec.cascade} if getattr(spec, "gates", ()) else {}))
    analyser = Analyser(settings, catalog.resolve(None))
    spent: dict[str, float] = defaultdict(float)
    for signal in analyser.signals:
        instrument(signal, spent)
    analyser.analyse(paths[0])
    spent.clear()
    cpu = time.process_time()
    wall = time.perf_counter()
    for path in paths:
        analyser.analyse(path)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = len(paths)
    print(f"  profile ({policy_name}, one process, {n} photos): {cpu / n * 1000:.1f} ms CPU and "
          f"{wall / n * 1000:.1f} ms wall per photo; signals' own wall time per photo: "
          + ", ".join(f"{k} {v / n * 1000:.1f} ms" for k, v in spent.items())
          + f"; decode and the rest {(wall - sum(spent.values())) / n * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=160)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--policy", choices=["default", "cascade", "both"], default="both")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import consentry.signals.sexual as sexual_signal

    sexual_signal.BodyRegionDetector = MarkedBodyRegions  # type: ignore[misc]  # workers fork after
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="consentry-photos-") as tmp_name:
        tmp = Path(tmp_name)
        plain = make_photos(tmp / "plain", args.photos)
        mix = make_photos(tmp / "mix", args.photos, marked_every=10)
        cases = []
        if args.policy in ("default", "both"):
            cases.append(("default", "every default signal, ordinary photos", plain))
        if args.policy in ("cascade", "both"):
            cases.append(("cascade", "cascade profile, 90% ordinary + 10% marked", mix))
        for policy_name, what, paths in cases:
            rates, cpus, seen = [], [], {}
            for run in range(args.runs):
                rate, seen = scan_rate(paths, policy_name, args.workers,
                                       f"sqlite:///{tmp / f'{policy_name}-{run}.db'}")
                rates.append(rate)
                cpus.append(seen.pop("cpu ms per photo"))
            cpu = statistics.median(cpus)
            print(f"{what} ({args.photos} photos 1280x720, 1-3 faces, {args.workers} workers): "
                  f"median {statistics.median(rates):.1f} photos/s (runs "
                  f"{', '.join(f'{r:.1f}' for r in rates)}); CPU {cpu:.0f} ms a photo (runs "
                  f"{', '.join(map(str, cpus))}), i.e. {2000 / cpu:.1f} photos/s on 2 idle "
                  f"cores; load {os.getloadavg()[0]:.1f}; {seen}")
            if args.profile:
                profile(paths[:40], policy_name)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
