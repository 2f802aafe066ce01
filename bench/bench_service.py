"""Benchmark of the HTTP service (docs/performance.md, "The service"):

1. ``GET /m/raw_lookup`` against a bank of N random PDQ hashes (1M by default), with ``wrk``
   holding 50 keep-alive connections (half the queries planted within 4 bits of a banked
   hash, half random), and the same queries through the index in one process for scale;
2. ``POST /v1/scan?wait=60`` with ``signals=hash`` on 1080p JPEGs, several clients at once,
   side by side with ``consentry scan --signals hash`` on the same files.

Besides wall-clock rates it reports the server's CPU seconds per request or image (from
/proc: what a shared machine's load changes least) and one HTTP worker's mean lookup batch
(the ``consentry_lookup_batch_size`` metric).

    .venv/bin/python bench/bench_service.py --work /tmp/svc-bench [--hashes 1000000]
        [--http-workers 2] [--duration 20] [--images 200] [--scan-db postgresql://...]

Needs ``wrk`` (apt install wrk). Everything binds 127.0.0.1. The bank is built once in
``--work`` and reused. Figures move by up to 2x on shared machines: compare ratios in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RAW_LUA = """
local queries = {}
for line in io.lines(os.getenv("QFILE")) do queries[#queries + 1] = line end
local n = 0
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
function request()
  n = n + 1
  local q = queries[(n % #queries) + 1]
  return wrk.format("GET", "/m/raw_lookup?signal_type=pdq&signal=" .. q)
end
local bad = 0
function response(status, headers, body) if status ~= 200 then bad = bad + 1 end end
function done(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\":%d,\\"rps\\":%.1f,\\"p50_ms\\":%.2f,\\"p99_ms\\":%.2f," ..
    "\\"max_ms\\":%.2f,\\"errors\\":%d}\\n", summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout +
    summary.errors.status))
end
"""


def build_bank(db_url: str, n: int, seed: int = 7) -> list[str]:
    """A bank BENCH of ``n`` random PDQ hashes; returns 1,000 queries (half planted)."""
    from sqlalchemy import insert, select

    from consentry.match.banks import index as bank_index
    from consentry.match.banks import service as banks
    from consentry.store.db import open_database
    from consentry.store.tables.banks import Bank, BankEntry
    from consentry.store.tables.core import utcnow

    rng = np.random.default_rng(seed)
    raw = rng.bytes(32 * n)
    hexes = [raw[i * 32 : (i + 1) * 32].hex() for i in range(n)]
    db = open_database(db_url)
    with db.session() as session:
        exists = session.scalar(select(Bank.id).where(Bank.name == "BENCH"))
    if exists is None:
        banks.create(db, "BENCH", "ncii", "bench")
        with db.session() as session:
            bank_id = session.scalar(select(Bank.id).where(Bank.name == "BENCH"))
            now = utcnow()
            for lo in range(0, n, 20_000):  # straight into the table: the API adds ~1k/s
                session.execute(insert(BankEntry), [
                    {"bank_id": bank_id, "signal": "pdq", "value_key": h, "value": h, "quality": 100,
                     "attributes": {}, "source": "bench", "added_at": now, "added_by": "bench"}
                    for h in hexes[lo : lo + 20_000]])
        t = time.perf_counter()
        bank_index.sync(db)
        print(f"index built over {n} hashes in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    queries = []
    for _ in range(500):
        h = bytearray(bytes.fromhex(hexes[int(rng.integers(0, n))]))
        for bit in rng.choice(256, size=4, replace=False):
            h[bit // 8] ^= 1 << (bit % 8)
        queries += [h.hex(), rng.bytes(32).hex()]
    db.close()
    return queries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(db_url: str, port: int, workers: int, job_workers: int, spool: Path
                 ) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "consentry", "--db", db_url, "serve", "--host", "127.0.0.1", "--port",
         str(port), "--workers", str(workers), "--job-workers", str(job_workers), "--spool", str(spool),
         "--rate-per-minute", "0"], start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if not wait_until_up(f"http://127.0.0.1:{port}/readyz", 600):
        raise SystemExit("server did not start")
    return proc


def wait_until_up(url: str, seconds: float, every: float = 0.5) -> bool:
    """Whether ``url`` answered 200 within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(every)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(60)


def group_pids(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(x) for x in out] or [pid]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (MB)."""
    out = subprocess.run(["ps", "-o", "rss=", "--ppid", str(pid), "-p", str(pid)], capture_output=True,
                         text=True).stdout.split()
    kids = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout.split()
    total = sum(int(x) for x in out)
    for kid in kids:
        if kid != str(pid):
            r = subprocess.run(["ps", "-o", "rss=", "-p", kid], capture_output=True, text=True).stdout.split()
            total += sum(int(x) for x in r)
    return total / 1024


def wrk_raw_lookup(port: int, key: str, queries: list[str], duration: int, clients: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        qfile = Path(tmp) / "q.txt"
        qfile.write_text("\n".join(queries) + "\n")
        lua = Path(tmp) / "raw.lua"
        lua.write_text(RAW_LUA)
        out = subprocess.run(["wrk", "-t", "2", "-c", str(clients), "-d", f"{duration}s", "--latency",
                              "-s", str(lua), f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                             env={**os.environ, "QFILE": str(qfile), "KEY": key}, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    return json.loads(line[5:])


def in_process_lookup(db_url: str, queries: list[str]) -> dict:
    from consentry.service.lookup import BankLookup
    from consentry.signals.hashing import catalogue
    from consentry.store.db import open_database

    lookup = BankLookup(open_database(db_url))
    lookup.load()
    pdq = catalogue.get("pdq")
    times = []
    hits = 0
    for q in queries:
        t = time.perf_counter()
        hits += bool(lookup.search(pdq, q))
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return {"per_lookup_ms_p50": round(float(np.percentile(ms, 50)), 3),
            "per_lookup_ms_p99": round(float(np.percentile(ms, 99)), 3), "planted_found": hits}


def make_images(folder: Path, n: int) -> list[Path]:
    from consentry.testing.samples import synthetic_scene

    folder.mkdir(parents=True, exist_ok=True)
    paths = sorted(folder.glob("*.jpg"))
    for i in range(len(paths), n):
        path = folder / f"scene-{i:04d}.jpg"
        synthetic_scene(seed=i, size=(1920, 1080)).save(path, quality=90)
    return sorted(folder.glob("*.jpg"))[:n]


def scan_over_http(port: int, key: str, images: list[Path], clients: int) -> dict:
    def one(path: Path) -> float:
        t = time.perf_counter()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            r = client.post("/v1/scan?wait=60", files={"file": path.read_bytes()}, data={"signals": "hash"})
        if r.status_code != 200 or r.json()["status"] != "done":
            raise SystemExit(f"scan failed: {r.status_code} {r.text[:200]}")
        return time.perf_counter() - t

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(one, images))
    wall = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {"images": len(images), "images_per_s": round(len(images) / wall, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1)}


def scan_cli(db_url: str, images: list[Path]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        for p in images:
            shutil.copy(p, Path(tmp) / p.name)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "consentry", "--db", db_url, "scan", "--signals", "hash",
                        "--json", tmp], capture_output=True, check=False)
        wall = time.perf_counter() - t
    return {"images": len(images), "images_per_s": round(len(images) / wall, 1)}


class _Skip(Exception):
    pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--hashes", type=int, default=1_000_000)
    ap.add_argument("--http-workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--scan-clients", type=int, default=16)
    ap.add_argument("--job-workers", type=int, default=2)
    ap.add_argument("--skip-scan", action="store_true")
    ap.add_argument("--scan-db", help="database URL for the scan part (default: a new SQLite "
                    "file in --work), e.g. postgresql://postgres@127.0.0.1/consentry_bench")
    ap.add_argument("--skip-lookup", action="store_true")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{args.work / f'bench-{args.hashes}.db'}"
    queries = build_bank(db_url, args.hashes)
    from consentry.store import keys
    from consentry.store.db import open_database

    db = open_database(db_url)
    key, _ = keys.create(db, "bench", "admin", "bench", rate_per_minute=0)
    db.close()
    results: dict = {"hashes": args.hashes, "http_workers": args.http_workers, "cores": os.cpu_count()}
    port = free_port()
    proc = None if args.skip_lookup else start_server(db_url, port, args.http_workers, 0, args.work / "spool")
    try:
        if proc is None:
            raise _Skip
        results["in_process"] = in_process_lookup(db_url, queries)
        wrk_raw_lookup(port, key, queries, 3, args.clients)  # warm up: keys verified, pages mapped
        pids = group_pids(proc.pid)
        cpu0, load0 = cpu_seconds(pids), os.getloadavg()[0]
        raw = wrk_raw_lookup(port, key, queries, args.duration, args.clients)
        cpu = cpu_seconds(pids) - cpu0
        # Requests per CPU-second of the server: what the shared machine's load cannot change.
        raw.update(server_cpu_s=round(cpu, 1), requests_per_server_cpu_s=round(raw["requests"] / cpu, 1),
                   load_average=[round(load0, 1), round(os.getloadavg()[0], 1)],
                   server_rss_mb=round(rss_mb(proc.pid)))
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics",
                            headers={"Authorization": f"Bearer {key}"}).text
        found = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
                 if line.startswith("consentry_lookup_batch_size_")}
        if found.get("consentry_lookup_batch_size_count"):  # one HTTP worker's batches
            raw["mean_lookup_batch"] = round(found["consentry_lookup_batch_size_sum"]
                                             / found["consentry_lookup_batch_size_count"], 1)
        results["raw_lookup"] = raw
    except _Skip:
        pass
    finally:
        if proc is not None:
            stop(proc)
    if not args.skip_scan:
        images = make_images(args.work / "img1080p", args.images)
        scan_db = args.scan_db or f"sqlite:///{args.work / 'scan.db'}"
        sdb = open_database(scan_db)
        skey, _ = keys.create(sdb, "bench", "submitter", "bench", rate_per_minute=0)
        sdb.close()
        port = free_port()
        proc = start_server(scan_db, port, args.http_workers, args.job_workers, args.work / "spool-scan")
        try:
            scan_over_http(port, skey, images[:10], 4)  # warm up
            pids = group_pids(proc.pid)
            cpu0 = cpu_seconds(pids)
            results["scan_http"] = scan_over_http(port, skey, images, args.scan_clients)
            per_image = (cpu_seconds(pids) - cpu0) / len(images)
            results["scan_http"]["server_cpu_s_per_image"] = round(per_image, 4)
            results["scan_http"]["load_average"] = round(os.getloadavg()[0], 1)
        finally:
            stop(proc)
        results["scan_cli"] = scan_cli(scan_db, images)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
