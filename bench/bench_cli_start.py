"""How long `consentry` takes to start: `--help` (target < 0.5 s, issue 10) and `scan --help`,
median of N runs in fresh processes, as a user's shell starts them.

    .venv/bin/python -m bench.bench_cli_start [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONSENTRY = Path(sys.executable).with_name("consentry")


def wall(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(CONSENTRY), *args], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    wall(["--help"], 2)  # warm the page cache
    for command in (["--help"], ["scan", "--help"], ["bank", "--help"], ["--version"]):
        times = wall(command, args.runs)
        print(f"consentry {' '.join(command):<14} median {statistics.median(times):.3f} s "
              f"(min {min(times):.3f}, max {max(times):.3f}, {args.runs} runs)")


if __name__ == "__main__":
    main()
