"""Hash matching at scale: the MIH index vs FAISS and brute-force numpy, and vPDQ video decisions.

    .venv/bin/python -m bench.bench_banks --sizes 100000 1000000          # ~3 min
    nice -n 10 .venv/bin/python -m bench.bench_banks --sizes 10000000 --no-multihash
    .venv/bin/python -m bench.bench_banks --video                          # 10-min video vs 10k videos

Data: uniformly random 256-bit PDQ hashes (seeded) plus planted near-duplicates: each planted
query is a bank hash with 0..31 bits flipped (evenly spread), so the exact answer is known.
Recall = planted pairs found; "false" = returned pairs beyond the threshold, and pairs that
differ from a brute-force scan on a sample of queries (both must be 0). Batched = all queries
in one call on 2 threads; single = one query per call on 1 thread. Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from consentry.signals.hashing.hash_types.vpdq import compare, unique_good_frames
from consentry.signals.hashing.mih import MIHIndex, popcount_distance, words_to_hex

THRESHOLD = 31


def plant(words: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sources = rng.choice(len(words), n, replace=False)
    dists = np.arange(n) % (THRESHOLD + 1)
    bits = np.unpackbits(words[sources].view(np.uint8), axis=1)
    for row, d in enumerate(dists):
        bits[row, rng.choice(256, int(d), replace=False)] ^= 1
    return np.packbits(bits, axis=1).view(np.uint64), sources, dists


def rss_mb() -> float:
    """Current resident memory (not the peak), from /proc."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 1e6


def brute_force(words: np.ndarray, queries: np.ndarray) -> tuple[float, list[set[int]]]:
    """Numpy popcount over every bank hash, one query at a time (lookups/s, answers)."""
    answers = []
    t = time.perf_counter()
    for q in queries:
        dist = popcount_distance(words, q[None, :])
        answers.append(set(np.flatnonzero(dist <= THRESHOLD).tolist()))
    return len(queries) / (time.perf_counter() - t), answers


def bandwidth_gbs(words: np.ndarray) -> float:
    """Single-pass read rate of the hash array (np.bitwise_or.reduce touches every byte once)."""
    flat = words.ravel()
    np.bitwise_or.reduce(flat[: 1 << 20])
    t = time.perf_counter()
    np.bitwise_or.reduce(flat)
    return flat.nbytes / (time.perf_counter() - t) / 1e9


def faiss_flat(words: np.ndarray, queries: np.ndarray, planted: int, sources: np.ndarray) -> dict:
    import faiss

    index = faiss.IndexBinaryFlat(256)
    index.add(words.view(np.uint8).reshape(-1, 32))
    qb = queries.view(np.uint8).reshape(-1, 32)
    faiss.omp_set_num_threads(2)
    t = time.perf_counter()
    lims, _d, ids = index.range_search(qb, THRESHOLD + 1)  # FAISS: distance < radius
    batched = len(qb) / (time.perf_counter() - t)
    faiss.omp_set_num_threads(1)
    single = []
    for i in range(min(50, len(qb))):
        t = time.perf_counter()
        index.range_search(qb[i : i + 1], THRESHOLD + 1)
        single.append(time.perf_counter() - t)
    found = sum(int(sources[i]) in set(ids[lims[i] : lims[i + 1]].tolist()) for i in range(planted))
    return {"batched_per_s": round(batched), "p99_single_ms": round(np.percentile(single, 99) * 1e3, 2),
            "recall": found / planted, "ram_mb": round(words.nbytes / 1e6)}


def faiss_multihash(words: np.ndarray, queries: np.ndarray, planted: int, sources: np.ndarray,
                    nhash: int = 16, bits: int = 16) -> dict:
    import faiss

    before = rss_mb()
    index = faiss.IndexBinaryMultiHash(256, nhash, bits)
    index.nflip = THRESHOLD // nhash  # pigeonhole radius per substring: exact at this threshold
    t = time.perf_counter()
    index.add(words.view(np.uint8).reshape(-1, 32))
    build = time.perf_counter() - t
    qb = queries.view(np.uint8).reshape(-1, 32)
    faiss.omp_set_num_threads(2)
    t = time.perf_counter()
    lims, _d, ids = index.range_search(qb, THRESHOLD + 1)
    batched = len(qb) / (time.perf_counter() - t)
    faiss.omp_set_num_threads(1)
    single = []
    for i in range(min(300, len(qb))):
        t = time.perf_counter()
        index.range_search(qb[i : i + 1], THRESHOLD + 1)
        single.append(time.perf_counter() - t)
    found = sum(int(sources[i]) in set(ids[lims[i] : lims[i + 1]].tolist()) for i in range(planted))
    return {"layout": f"{nhash}x{bits}", "batched_per_s": round(batched),
            "p99_single_ms": round(np.percentile(single, 99) * 1e3, 2), "recall": found / planted,
            "ram_mb_peak_delta": round(rss_mb() - before), "build_s": round(build, 1)}


def bench_size(n: int, rng: np.random.Generator, *, multihash: bool, n_queries: int) -> dict:
    words = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    planted_n = n_queries // 2
    near, sources, _dists = plant(words, planted_n, rng)
    queries = np.concatenate([near, rng.integers(0, 2**64, size=(n_queries - planted_n, 4), dtype=np.uint64)])
    out: dict = {"n": n, "queries": n_queries, "planted": planted_n}

    rss0 = rss_mb()
    t = time.perf_counter()
    index = MIHIndex(THRESHOLD)
    index.add(words, np.arange(n))
    out["build_s"] = round(time.perf_counter() - t, 1)
    out["build_rss_delta_mb"] = round(rss_mb() - rss0)
    seg = index.segments[0]
    out["layout"] = f"{seg.chunks} chunks x {seg.width} bits"
    out["index_mb"] = round(index.nbytes / 1e6)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        index.save(Path(tmp) / "idx")
        del index
        t = time.perf_counter()
        mapped = MIHIndex.load(Path(tmp) / "idx")  # how the matcher opens it
        out["load_mmap_s"] = round(time.perf_counter() - t, 3)
        del mapped
        rss1 = rss_mb()
        t = time.perf_counter()
        index = MIHIndex.load(Path(tmp) / "idx", mmap=False)
        out["load_into_ram_s"] = round(time.perf_counter() - t, 2)
        out["loaded_rss_delta_mb"] = round(rss_mb() - rss1)
        index.threads = 2
        index.search(queries[:256])  # warm
        t = time.perf_counter()
        q, p, d = index.search(queries)
        out["batched_per_s"] = round(n_queries / (time.perf_counter() - t))
        found = set(zip(q.tolist(), p.tolist(), strict=True))
        out["recall"] = sum((i, int(s)) in found for i, s in enumerate(sources)) / planted_n
        out["beyond_threshold"] = int((d > THRESHOLD).sum())
        index.threads = 1
        single = []
        for i in range(1000):
            t = time.perf_counter()
            index.search(queries[i : i + 1])
            single.append(time.perf_counter() - t)
        out["p50_single_ms"] = round(np.percentile(single, 50) * 1e3, 2)
        out["p99_single_ms"] = round(np.percentile(single, 99) * 1e3, 2)
        # Exactness against brute force on a sample of queries (planted and random).
        sample = np.r_[0:20, planted_n : planted_n + 10]
        bf_rate, answers = brute_force(words, queries[sample])
        got: dict[int, set[int]] = {}
        for qi, pi in zip(q.tolist(), p.tolist(), strict=True):
            got.setdefault(qi, set()).add(pi)
        out["differs_from_brute_force"] = sum(got.get(int(i), set()) != a for i, a in zip(sample, answers,
                                                                                          strict=True))
        out["brute_force_per_s"] = round(bf_rate, 1)
        out["speedup_vs_brute_force"] = round(out["batched_per_s"] / bf_rate)
        bw = bandwidth_gbs(words)
        out["read_gbs_1thread"] = round(bw, 1)
        out["bandwidth_bound_per_s"] = round(bw * 1e9 / words.nbytes, 1)
        out["speedup_vs_bandwidth_bound"] = round(out["batched_per_s"] / out["bandwidth_bound_per_s"])
        del index
    flat_q = queries[: min(n_queries, 400 if n >= 5_000_000 else 2000)]
    out["faiss_flat"] = faiss_flat(words, flat_q, min(planted_n, len(flat_q)), sources)
    if multihash:
        out["faiss_multihash"] = faiss_multihash(words, queries, planted_n, sources)
    return out


def bench_video(rng: np.random.Generator, n_videos: int = 10_000, query_s: int = 600) -> dict:
    """A 10-minute video (1 frame/s) against a bank of videos of 30 s to 10 min (1 frame/s)."""
    lengths = rng.integers(30, 601, n_videos)
    frames = rng.integers(0, 2**64, size=(int(lengths.sum()), 4), dtype=np.uint64)
    owner = np.repeat(np.arange(n_videos), lengths)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    index = MIHIndex(THRESHOLD)
    t = time.perf_counter()
    index.add(frames, owner)
    build = time.perf_counter() - t
    # The query: a re-encoded copy of a banked 10-minute video (each frame 0..12 bits off).
    target = int(np.flatnonzero(lengths >= query_s)[0])
    src = frames[starts[target] : starts[target] + query_s]
    bits = np.unpackbits(src.view(np.uint8), axis=1)
    for row in range(len(src)):
        bits[row, rng.choice(256, int(rng.integers(0, 13)), replace=False)] ^= 1
    query = np.packbits(bits, axis=1).view(np.uint64)
    query_hex = words_to_hex(query)
    timings = []
    decided: list[int] = []
    for _ in range(5):
        t = time.perf_counter()
        probe = unique_good_frames([(h, 100) for h in query_hex], 50)
        _q, payload, _d = index.search(np.ascontiguousarray(query))
        decided = []
        for video in np.unique(payload).tolist():
            target_hex = words_to_hex(frames[starts[video] : starts[video] + lengths[video]])
            result = compare(probe, unique_good_frames([(h, 100) for h in target_hex], 50), THRESHOLD)
            if result and result.query_match_pct >= 80.0:
                decided.append(video)
        timings.append(time.perf_counter() - t)
    return {"bank_videos": n_videos, "bank_frames": int(lengths.sum()), "query_frames": query_s,
            "build_s": round(build, 1), "decide_s_median": round(float(np.median(timings)), 3),
            "decide_s_max": round(max(timings), 3), "matched": decided, "expected": [target]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--no-multihash", action="store_true", help="skip FAISS IndexBinaryMultiHash")
    parser.add_argument("--video", action="store_true", help="run the video benchmark instead")
    args = parser.parse_args()
    rng = np.random.default_rng(20261127)
    print(json.dumps({"cpus": len(os.sched_getaffinity(0)), "loadavg": os.getloadavg()}))
    if args.video:
        print(json.dumps(bench_video(rng)), flush=True)
        return
    for n in args.sizes:
        print(json.dumps(bench_size(n, rng, multihash=not args.no_multihash, n_queries=args.queries)),
              flush=True)


if __name__ == "__main__":
    main()
