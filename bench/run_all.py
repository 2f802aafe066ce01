"""`make bench`: every benchmark with its default arguments, one after another (each prints
its own figures; docs/performance.md quotes them with the command that made them)."""

from __future__ import annotations

import subprocess
import sys

BENCHES = ["bench_cli_start", "bench_scan", "bench_pdq_drift", "bench_pipeline", "bench_faces",
           "bench_detector", "bench_banks"]


def main() -> int:
    failed = []
    for name in BENCHES:
        print(f"\n=== bench.{name} ===", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
