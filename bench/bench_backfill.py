"""Backfill throughput on the same files: the local engine against Ray with 1 and 2 actors.

Files: synthetic 640x480 JPEGs (consentry.testing.samples), made here. Each configuration
backfills them into its own new SQLite database (so nothing is linked to an earlier run),
through the same Backfill class the CLI uses; the time counts listing, analysis, decisions
and storage, not the start of Ray (given separately).

    .venv/bin/python bench/bench_backfill.py --files 1000 --signals hash
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--signals", default="hash")
    parser.add_argument("--configs", nargs="*", default=["local:2", "ray:1", "ray:2"])
    args = parser.parse_args()
    from consentry.pipeline.backfill.engine import LocalEngine
    from consentry.pipeline.backfill.manifest import read_sources
    from consentry.pipeline.backfill.run import Backfill
    from consentry.policy.engine import RulesPolicy
    from consentry.settings import ScanSettings
    from consentry.signals import catalog
    from consentry.store import backfill as store
    from consentry.store.db import open_database
    from consentry.testing.samples import synthetic_scene

    signals = tuple(args.signals.split(","))
    settings = ScanSettings(signals=signals)
    classes = catalog.resolve(signals)
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        for i in range(args.files):
            synthetic_scene(i).save(media / f"img-{i:05d}.jpg", quality=90)
        for config in args.configs:
            name, _, count = config.partition(":")
            workers = int(count or 2)
            db = open_database(f"sqlite:///{tmp}/{name}-{workers}.db")
            t = time.monotonic()
            if name == "ray":
                from consentry.pipeline.ray_engine import RayEngine

                engine = RayEngine(settings, classes, actors=workers)
                engine.actor_pids()  # the actors are up (models loaded)
            else:
                engine = LocalEngine(settings, classes, workers)
            started = time.monotonic() - t
            t = time.monotonic()
            run_id = store.create_run(db, config, [str(media)], {}, {})
            store.write_manifest(db, run_id, read_sources([media]))
            run = store.get_run(db, run_id)
            assert run is not None
            summary = Backfill(db, RulesPolicy.from_file(), classes, engine).run(run)
            wall = time.monotonic() - t
            engine.close()
            db.close()
            print(json.dumps({"engine": name, "workers": workers, "files": args.files,
                              "signals": args.signals, "engine_start_s": round(started, 1),
                              "wall_s": round(wall, 1),
                              "items_per_s": round(summary.n_items / wall, 1),
                              "errors": summary.n_errors}), flush=True)


if __name__ == "__main__":
    main()
