"""Whole default pipeline: every installed signal, the matchers and the default policy, on a
1280x720 photo (5 faces, and 1 face for comparison) and a 60 s 720p video. Prints the figures
for docs/performance.md ("Whole pipeline").

Media is built in a temporary folder from ../shared (never committed), the same as
bench/bench_faces.py: the photo is 5 DFDC REAL crops (200 px faces) on a grey background saved
as JPEG q90; the video is the FF++ c40 720p YouTube originals scaled to 1280x720 at 30 fps, cut at
60 s. One consenting person (another DFDC crop) is enrolled so the likeness matcher runs, and an
NCII bank of random PDQ hashes is filled so the bank matcher runs.

    .venv/bin/python -m bench.bench_pipeline [--repeats 10] [--skip-video] [--skip-cli]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.bench_faces import DEV, cpu_seconds, make_clip
from consentry.match.matchers import matcher_classes
from consentry.pipeline.analysis import Analyser
from consentry.pipeline.decision import decide_batch
from consentry.policy.engine import RulesPolicy
from consentry.settings import ScanSettings
from consentry.signals import catalog as registry
from consentry.signals.base import FrameConsumer, SampledFrame, Signal
from consentry.store import scans as scan_store
from consentry.store.db import Database, open_database
from consentry.testing.faces import group_photo, real_crops
from consentry.types import ItemReport, SignalResult


class _TimedConsumer(FrameConsumer):
    def __init__(self, inner: FrameConsumer, name: str, spent: dict[str, float]) -> None:
        self.inner, self.name, self.spent = inner, name, spent

    def wants(self, index: int, timestamp: float) -> bool:
        return self.inner.wants(index, timestamp)

    def add(self, frame: SampledFrame, shared: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            self.inner.add(frame, shared)
        finally:
            self.spent[self.name] += time.perf_counter() - started

    def finish(self) -> SignalResult:
        started = time.perf_counter()
        try:
            return self.inner.finish()
        finally:
            self.spent[self.name] += time.perf_counter() - started


def instrument(signal: Signal, spent: dict[str, float]) -> None:
    """Time each signal's own work (the decoding is what remains of the total)."""
    compute, consumer = signal.compute_image, signal.video_consumer

    def compute_image(frame, ctx):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return compute(frame, ctx)
        finally:
            spent[signal.name] += time.perf_counter() - started

    signal.compute_image = compute_image  # type: ignore[method-assign]
    signal.video_consumer = lambda ctx: _TimedConsumer(consumer(ctx), signal.name, spent)  # type: ignore[method-assign]


def enrol_someone(db: Database, tmp: Path) -> bool:
    """Enrol one person (a DFDC crop not in the photo, set on a canvas so HOG finds it)."""
    try:
        from consentry.match.likeness.service import enrol
    except ImportError:
        return False
    from datetime import date, timedelta

    from consentry.cli.person import analyse_photos
    from consentry.errors import ConfigError
    from consentry.match.likeness.consent import ConsentRequest

    consent = ConsentRequest("in-person", "benchmark: a DFDC actor who consented to research use",
                             date.today() + timedelta(days=30))

    portrait = tmp / "enrol.png"
    for offset in range(40, 60):  # the first crop whose face the enrolment accepts
        Image.fromarray(group_photo(real_crops(DEV, 1, offset=offset), size=(640, 480))).save(portrait)
        try:
            enrol(db, name="bench person", consent=consent, photos=analyse_photos([portrait]),
                  actor="bench")
            return True
        except ConfigError:
            continue
    return False


def fill_bank(db: Database, n_hashes: int) -> bool:
    """An NCII bank of random PDQ hashes, so the bank matcher runs (nothing will match)."""
    try:
        from consentry.match.banks.records import make_record
        from consentry.match.banks.service import add_records, create_bank
    except ImportError:
        return False
    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 256, (n_hashes, 32), dtype=np.uint8)
    with db.session() as session:
        bank = create_bank(session, "bench-ncii", "ncii", "bench")
        add_records(session, bank, (make_record("pdq", h.tobytes().hex()) for h in hashes),
                    source="bench", actor="bench")
    return True


def run_item(path: Path, analyser: Analyser, db: Database, scan_id: int, matchers: list,
             policy: RulesPolicy, spent: dict[str, float]) -> tuple[float, float, ItemReport]:
    cpu0, started = cpu_seconds(), time.perf_counter()
    report = analyser.analyse(path)
    analysed = time.perf_counter()
    decide_batch([report], db, scan_id, matchers, policy)
    spent["match+policy+store"] += time.perf_counter() - analysed
    return time.perf_counter() - started, cpu_seconds() - cpu0, report


def table(runs: list[dict[str, float]]) -> str:
    """Median seconds per stage over the runs (the machine is shared: medians, not means)."""
    rows = ["| stage | median seconds | share of the median run |", "|---|---:|---:|"]
    for run in runs:
        run["decode + pipeline overhead"] = run["total"] - sum(
            v for k, v in run.items() if k not in ("total", "decode + pipeline overhead"))
    total = statistics.median(r["total"] for r in runs)
    for name in [k for k in runs[0] if k != "total"]:
        seconds = statistics.median(r.get(name, 0.0) for r in runs)
        rows.append(f"| {name} | {seconds:.3f} | {seconds / total:.0%} |")
    return "\n".join(rows)


def cli_seconds(db_url: str, path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "consentry", "--db", db_url, "scan", str(path),
                           "--json"], capture_output=True, text=True)
    return time.perf_counter() - started, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--skip-video", action="store_true")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--bank-size", type=int, default=20_000)
    parser.add_argument("--nobody-enrolled", action="store_true",
                        help="no likeness registry entries, so the likeness matcher does not run")
    args = parser.parse_args()

    signal_classes = registry.resolve(None)
    print("signals active:", ", ".join(c.name for c in signal_classes))
    for name in registry.SIGNALS:
        if (reason := registry.unavailable_reason(name)) is not None:
            print(f"signal NOT active: {name} ({reason})")
    with tempfile.TemporaryDirectory(prefix="consentry-bench-") as tmp_name:
        tmp = Path(tmp_name)
        db_url = f"sqlite:///{tmp / 'bench.db'}"
        db = open_database(db_url)
        enrolled = not args.nobody_enrolled and enrol_someone(db, tmp)
        banked = fill_bank(db, args.bank_size)
        matchers = [m for cls in matcher_classes() if (m := cls.load(db)) is not None]
        print("matchers active:", ", ".join(m.name for m in matchers) or "none",
              "(1 person enrolled)" if enrolled else "",
              f"(NCII bank of {args.bank_size:,} random PDQ hashes)" if banked else "")
        policy = RulesPolicy.from_file()
        with db.session() as session:
            scan_id = scan_store.start_scan(session, {"bench": True})

        spent: dict[str, float] = defaultdict(float)
        analyser = Analyser(ScanSettings(), signal_classes)
        for signal in analyser.signals:
            instrument(signal, spent)
        for n_faces in (5, 1):  # the 5-face photo is the headline; 1 face for comparison
            photo = tmp / f"photo-{n_faces}.jpg"
            Image.fromarray(group_photo(real_crops(DEV, n_faces))).save(photo, quality=90)
            run_item(photo, analyser, db, scan_id, matchers, policy, spent)  # warm-up: not counted
            spent.clear()
            walls, cpus, runs = [], [], []
            for _ in range(args.repeats):
                wall, cpu, report = run_item(photo, analyser, db, scan_id, matchers, policy, spent)
                walls.append(wall)
                cpus.append(cpu)
                runs.append(dict(spent) | {"total": wall})
                spent.clear()
            verdict = report.verdict.as_json() if report.verdict else {}
            print(f"\nphoto 1280x720 JPEG, {n_faces} face(s), warm (models loaded), {args.repeats} "
                  f"runs: median {statistics.median(walls):.3f} s wall (min {min(walls):.3f}, "
                  f"max {max(walls):.3f}), {statistics.median(cpus):.3f} s CPU; verdict "
                  f"{verdict.get('action')}, missing {verdict.get('missing_signals')}")
            print(table(runs))
        photo = tmp / "photo-5.jpg"
        if not args.skip_cli:
            wall, code = cli_seconds(db_url, photo)
            print(f"photo, cold `consentry scan` (Python start, imports, model loads, worker "
                  f"processes): {wall:.2f} s, exit {code}")

        if args.skip_video:
            return
        started = time.perf_counter()
        clip = make_clip(tmp / "clip60.mp4")
        print(f"\nmade the 60 s 1280x720 30 fps clip in {time.perf_counter() - started:.0f} s")
        spent.clear()  # the timing wrappers hold this very dict
        wall, cpu, report = run_item(clip, analyser, db, scan_id, matchers, policy, spent)
        verdict = report.verdict.as_json() if report.verdict else {}
        print(f"video 60 s 1280x720 30 fps (1,800 frames), in-process, one core: {wall:.1f} s "
              f"wall, {cpu:.1f} s CPU; verdict {verdict.get('action')}, "
              f"missing {verdict.get('missing_signals')}")
        print(table([dict(spent) | {"total": wall}]))
        if not args.skip_cli:
            wall, code = cli_seconds(db_url, clip)
            print(f"video, cold `consentry scan`: {wall:.1f} s, exit {code}")


if __name__ == "__main__":
    main()
