"""Consentry beside Meta's hasher-matcher-actioner (HMA) in one run (docs/performance.md,
"Beside HMA"): the same bank of random PDQ hashes loaded into both, both on the machine's
PostgreSQL with two HTTP workers, the same queries, the same load, taken in turns (A B A B) so
the shared machine's drift falls on both alike.

1. Answers: every query (half planted within 0-31 bits of a banked hash, half random) asked of
   both with ``GET /m/raw_lookup?include_distance=true``; the matched hashes and their distances
   must be the same sets (ids differ between the two stores, so they are compared as hashes).
2. ``GET /m/raw_lookup`` under ``wrk`` with 50 keep-alive clients, and ``POST /m/lookup`` with a
   1080p JPEG under 10 clients: requests/s, p50/p99 and the server's own CPU time a request.

HMA must be prepared once, as ../shared/reference/hma-local/RUNBOOK.md sections 0-2 say (its
source copied to HMA_DIR/src-copy, a venv in HMA_DIR/venv with '.[prod]', the role ``hma``);
this script makes its own databases (``hma_vs``, ``consentry_vs``), loads them and starts and
stops both servers:

    .venv/bin/python -m bench.bench_vs_hma --hma-dir /tmp/hma --work /tmp/vs-hma \\
        [--hashes 1000000] [--duration 20] [--rounds 2]

Needs ``wrk`` and ``psql``. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench.bench_service import (
    RAW_LUA,
    cpu_seconds,
    free_port,
    group_pids,
    rss_mb,
    start_server,
    stop,
    wait_until_up,
)

PG = "postgresql://postgres@127.0.0.1:5432"
HMA_DB, OUR_DB = "hma_vs", "consentry_vs"
POST_LUA = """
local f = assert(io.open(os.getenv("JPEG"), "rb")); local jpeg = f:read("*a"); f:close()
local b = "----bench7d1a"
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. b
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.body = "--" .. b .. "\\r\\nContent-Disposition: form-data; name=\\"photo\\"; " ..
  "filename=\\"p.jpg\\"\\r\\n" ..
  "Content-Type: image/jpeg\\r\\n\\r\\n" .. jpeg .. "\\r\\n--" .. b .. "--\\r\\n"
function request() return wrk.format(nil, "/m/lookup") end
local bad = 0
function done(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\":%d,\\"rps\\":%.1f,\\"p50_ms\\":%.2f,\\"p99_ms\\":%.2f," ..
    "\\"max_ms\\":%.2f,\\"errors\\":%d}\\n", summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout +
    summary.errors.status))
end
"""


def make_data(n: int, seed: int = 20261201) -> tuple[list[str], list[str]]:
    """``n`` random bank hashes and 1,000 queries: even ones planted 0-31 bits from a banked
    hash (the edge of both services' default threshold of 31 included), odd ones random."""
    rng = np.random.default_rng(seed)
    raw = rng.bytes(32 * n)
    bank = [raw[i * 32:(i + 1) * 32].hex() for i in range(n)]
    queries = []
    for _ in range(500):
        h = bytearray(bytes.fromhex(bank[int(rng.integers(0, n))]))
        for bit in rng.choice(256, size=int(rng.integers(0, 32)), replace=False):
            h[bit // 8] ^= 1 << (bit % 8)
        queries += [h.hex(), rng.bytes(32).hex()]
    return bank, queries


def psql(sql: str, db: str = "postgres", user: str = "postgres") -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1",
                           "-qAtc", sql], capture_output=True, text=True, check=True).stdout


def fresh_database(name: str, owner: str = "postgres") -> None:
    psql(f"DROP DATABASE IF EXISTS {name}")
    psql(f"CREATE DATABASE {name} OWNER {owner}")


# --- HMA ---------------------------------------------------------------------------------------

def hma_env(hma_dir: Path, work: Path, indexer: bool) -> dict[str, str]:
    config = work / "omm_config.py"
    template = hma_dir / "config/omm_config.py"  # RUNBOOK section 2
    config.write_text(template.read_text().replace("@127.0.0.1:5432/hma\"", f"@127.0.0.1:5432/{HMA_DB}\""))
    return {**os.environ, "OMM_CONFIG": str(config), "HMA_TASK_INDEXER": "1" if indexer else "0",
            "OMP_NUM_THREADS": "1", "LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"}


def start_hma(hma_dir: Path, work: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = hma_env(hma_dir, work, indexer=workers == 1)
    log = (work / f"hma-{workers}w.log").open("wb")
    proc = subprocess.Popen([str(hma_dir / "venv/bin/gunicorn"), "--bind", f"127.0.0.1:{port}",
                             "--workers", str(workers), "OpenMediaMatch.app:create_app()"],
                            cwd=hma_dir / "src-copy/src", env=env, stdout=log, stderr=log,
                            start_new_session=True)
    if not wait_until_up(f"http://127.0.0.1:{port}/status", 300, every=1):
        raise SystemExit(f"HMA did not start: see {log.name}")
    return proc


def load_hma(hma_dir: Path, work: Path, bank: list[str]) -> None:
    """HMA's own migrations, a bank made through its API, the hashes straight into its tables
    (its API adds ~67 a second), then its own index build."""
    psql("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='hma') THEN "
         "CREATE ROLE hma LOGIN PASSWORD 'hma'; END IF; END$$")
    fresh_database(HMA_DB, owner="hma")
    env = {**hma_env(hma_dir, work, indexer=False), "MIGRATION_COMMAND": "1"}
    src = hma_dir / "src-copy/src"
    flask = str(hma_dir / "venv/bin/flask")
    subprocess.run([flask, "--app", "OpenMediaMatch.app", "db", "upgrade", "--directory",
                    "OpenMediaMatch/migrations"], cwd=src, env=env, check=True, capture_output=True)
    port = free_port()
    proc = start_hma(hma_dir, work, port, 1)
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/c/banks", json={"name": "BENCH"}, timeout=30)
        r.raise_for_status()
    finally:
        stop(proc)
    stage = work / "bank.tsv"
    stage.write_text("".join(f"{i}\t{h}\n" for i, h in enumerate(bank)))
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "hma", "-d", HMA_DB, "-v", "ON_ERROR_STOP=1", "-q"],
                   input=f"""CREATE TEMP TABLE stage(seq int, hash text);
\\copy stage FROM '{stage}'
WITH s AS MATERIALIZED (SELECT hash, nextval('bank_content_id_seq') AS id FROM stage ORDER BY seq),
     b AS (INSERT INTO bank_content (id, bank_id, disable_until_ts)
           SELECT id, (SELECT id FROM bank WHERE name='BENCH'), 1 FROM s RETURNING id)
INSERT INTO content_signal (content_id, signal_type, signal_val, create_time)
SELECT id, 'pdq', hash, now() FROM s;
""", text=True, check=True, env={**os.environ, "PGPASSWORD": "hma"})
    subprocess.run([flask, "--app", "OpenMediaMatch.app", "build_indices"], cwd=src,
                   env=hma_env(hma_dir, work, indexer=False), check=True, capture_output=True)


# --- Consentry ---------------------------------------------------------------------------------

def load_ours(bank: list[str]) -> str:
    from sqlalchemy import insert, select

    from consentry.match.banks import index as bank_index
    from consentry.match.banks import service as banks
    from consentry.store import keys
    from consentry.store.db import open_database
    from consentry.store.tables.banks import Bank, BankEntry
    from consentry.store.tables.core import utcnow

    fresh_database(OUR_DB)
    db = open_database(f"{PG}/{OUR_DB}")
    banks.create(db, "BENCH", "ncii", "bench")
    with db.session() as session:
        bank_id = session.scalar(select(Bank.id).where(Bank.name == "BENCH"))
        now = utcnow()
        for lo in range(0, len(bank), 20_000):  # straight into the table, as for HMA
            session.execute(insert(BankEntry), [
                {"bank_id": bank_id, "signal": "pdq", "value_key": h, "value": h, "quality": 100,
                 "attributes": {}, "source": "bench", "added_at": now, "added_by": "bench"}
                for h in bank[lo:lo + 20_000]])
    bank_index.sync(db)
    key, _ = keys.create(db, "bench", "admin", "bench", rate_per_minute=0)
    db.close()
    return key


# --- the comparison ----------------------------------------------------------------------------

def answers(port: int, key: str, queries: list[str], id_to_hash: str, db: str, user: str
            ) -> list[set[tuple[str, int]]]:
    """Each query's matches as {(banked hash, distance)}."""
    found: list[list[tuple[int, int]]] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                      headers={"Authorization": f"Bearer {key}"} if key else {}) as client:
        for q in queries:
            r = client.get("/m/raw_lookup", params={"signal_type": "pdq", "signal": q,
                                                    "include_distance": "true"})
            r.raise_for_status()
            found.append([(int(m["bank_content_id"]), int(m["distance"])) for m in r.json()["matches"]])
    ids = sorted({i for matches in found for i, _ in matches}) or [-1]
    rows = psql(id_to_hash.format(ids=",".join(map(str, ids))), db, user)
    hashes = dict(line.split("|") for line in rows.splitlines())
    return [{(hashes[str(i)], d) for i, d in matches} for matches in found]


def wrk(port: int, key: str, lua: str, env: dict[str, str], duration: int, clients: int,
        server: subprocess.Popen[bytes]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "s.lua"
        script.write_text(lua)
        pids = group_pids(server.pid)
        cpu0, load0 = cpu_seconds(pids), os.getloadavg()[0]
        out = subprocess.run(["wrk", "-t", "2", "-c", str(clients), "-d", f"{duration}s", "--latency",
                              "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}"],
                             capture_output=True, text=True, env={**os.environ, **env, "KEY": key},
                             check=True).stdout
        cpu = cpu_seconds(pids) - cpu0
    result = json.loads(next(x for x in out.splitlines() if x.startswith("JSON "))[5:])
    result.update(server_cpu_ms_per_request=round(1000 * cpu / max(result["requests"], 1), 2),
                  load_average=round((load0 + os.getloadavg()[0]) / 2, 1),
                  server_rss_mb=round(rss_mb(server.pid)))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hma-dir", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--hashes", type=int, default=1_000_000)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clients", type=int, default=50)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    bank, queries = make_data(args.hashes)
    t = time.perf_counter()
    load_hma(args.hma_dir, args.work, bank)
    print(f"HMA loaded and indexed in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    t = time.perf_counter()
    key = load_ours(bank)
    print(f"Consentry loaded and indexed in {time.perf_counter() - t:.0f} s", file=sys.stderr)

    from bench.bench_service import make_images

    jpeg = make_images(args.work / "img1080p", 1)[0]
    hma_port, our_port = free_port(), free_port()
    hma = start_hma(args.hma_dir, args.work, hma_port, 2)
    ours = start_server(f"{PG}/{OUR_DB}", our_port, 2, 0, args.work / "spool")
    servers = {"hma": (hma, hma_port, ""), "consentry": (ours, our_port, key)}
    results: dict = {"hashes": args.hashes, "queries": len(queries), "cores": os.cpu_count()}
    try:
        # HMA's workers each load the index on their own schedule: wait until both answer.
        probe = queries[0]
        for _ in range(600):
            hits = [httpx.get(f"http://127.0.0.1:{hma_port}/m/raw_lookup",
                              params={"signal_type": "pdq", "signal": probe}).json().get("matches")
                    for _ in range(20)]
            if all(hits):
                break
            time.sleep(0.5)
        theirs = answers(hma_port, "", queries, "SELECT content_id, signal_val FROM content_signal "
                         "WHERE content_id IN ({ids})", HMA_DB, "postgres")
        mine = answers(our_port, key, queries, "SELECT id, value FROM bank_entries WHERE id IN ({ids})",
                       OUR_DB, "postgres")
        differ = [i for i, (a, b) in enumerate(zip(theirs, mine, strict=True)) if a != b]
        results["answers"] = {"same": len(queries) - len(differ), "differ": len(differ),
                              "planted_found": {"hma": sum(bool(a) for a in theirs[0::2]),
                                                "consentry": sum(bool(b) for b in mine[0::2])},
                              "random_matched": {"hma": sum(bool(a) for a in theirs[1::2]),
                                                 "consentry": sum(bool(b) for b in mine[1::2])},
                              "first_differences": [(queries[i], sorted(theirs[i]), sorted(mine[i]))
                                                    for i in differ[:3]]}
        with tempfile.TemporaryDirectory() as tmp:
            qfile = Path(tmp) / "q.txt"
            qfile.write_text("\n".join(queries) + "\n")
            for proc, port, k in servers.values():  # warm up: pages mapped, keys verified
                wrk(port, k, RAW_LUA, {"QFILE": str(qfile)}, 3, args.clients, proc)
            for r in range(args.rounds):
                for name, (proc, port, k) in servers.items():
                    results.setdefault(f"raw_lookup_{name}", []).append(
                        wrk(port, k, RAW_LUA, {"QFILE": str(qfile)}, args.duration, args.clients, proc))
                    results.setdefault(f"post_lookup_1080p_{name}", []).append(
                        wrk(port, k, POST_LUA, {"JPEG": str(jpeg)}, args.duration, 10, proc))
                    print(f"round {r + 1} {name} done", file=sys.stderr)
    finally:
        stop(hma)
        stop(ours)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
