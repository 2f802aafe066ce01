"""Importing a large hash list: wall time and peak memory of `consentry bank import` (streamed).

    .venv/bin/python -m bench.bench_import --rows 1000000 --format csv     # ~3 min on 2 cores
    .venv/bin/python -m bench.bench_import --rows 1000000 --format te

Writes a list of random PDQ hashes (seeded; every 1000th row a 60-frame vPDQ, a few duplicate
rows) to a temporary folder, imports it into a new SQLite bank with the real CLI in a child
process, and reports the child's peak resident memory (``ru_maxrss``) and the row accounting:
added + duplicates + bad rows must equal the data rows. The import includes indexing the new
hashes (the bank index is kept in sync by the bank service). Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_list(path: Path, rows: int, fmt: str, seed: int = 7) -> int:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, size=(rows, 32), dtype=np.uint8)
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            fh.write("signal_type,signal_value,case_id\n")
        for i in range(rows):
            if i % 1000 == 999:
                frames = ",".join(f'"{hashes[(i + k) % rows].tobytes().hex()},100,{k}.000"'
                                  for k in range(60))
                signal, value = "vpdq", f"[{frames}]"
            else:
                signal, value = "pdq", hashes[i if i % 5000 else max(0, i - 2)].tobytes().hex()
            if fmt == "csv":
                quoted = '"' + value.replace('"', '""') + '"' if '"' in value else value
                fh.write(f"{signal},{quoted},case-{i % 97}\n")
            elif fmt == "te":
                fh.write(f"{signal} {value}\n")
            else:
                fh.write(json.dumps({"signal_type": signal, "signal_value": value}) + "\n")
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--format", choices=("csv", "te", "jsonl"), default="csv")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / f"list.{args.format}"
        t = time.perf_counter()
        rows = write_list(listing, args.rows, args.format)
        size_mb = listing.stat().st_size / 1e6
        print(f"wrote {rows:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - t:.1f} s")
        db = f"sqlite:///{Path(tmp) / 'bench.db'}"
        env = {**os.environ, "XDG_DATA_HOME": str(Path(tmp) / "xdg")}
        cli = [sys.executable, "-m", "consentry", "--db", db]
        subprocess.run([*cli, "bank", "create", "big", "--kind", "ncii"], check=True, env=env,
                       capture_output=True)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
        t = time.perf_counter()
        proc = subprocess.run([*cli, "--json", "bank", "import", "big", str(listing), "--skip-bad"],
                              env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mb = usage.ru_maxrss / 1024
        cpu = usage.ru_utime + usage.ru_stime - cpu_before
        out = json.loads(proc.stdout.splitlines()[-1])
        accounted = out.get("added", 0) + out.get("duplicates", 0) + len(out.get("bad_rows", []))
        print(f"import: exit {proc.returncode}, {wall:.1f} s wall, {cpu:.0f} s CPU "
              f"({rows / wall:,.0f} rows/s), peak RSS "
              f"{peak_mb:.0f} MB (the CLI process; children before: {before / 1024:.0f} MB)")
        print(f"added {out.get('added'):,}, duplicates {out.get('duplicates'):,}, bad "
              f"{len(out.get('bad_rows', []))}: {accounted:,} of {rows:,} rows accounted for")


if __name__ == "__main__":
    main()
