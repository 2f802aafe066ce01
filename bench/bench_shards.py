"""The sharded MIH index at 10M hashes in 1, 2 and 4 shards: build time, batched lookups/s,
single-lookup p50/p99, memory per shard, and exactness against the 1-shard answers.

Data as bench_banks.py: uniformly random 256-bit hashes (seeded), 10,000 queries of which
half are planted near-duplicates at 0-31 bits. Shards here are in one process (threads), so
the figures show the cost of cutting (every query visits every shard) on one machine; on
separate machines each shard's lookup runs on its own cores and memory.

    .venv/bin/python bench/bench_shards.py --hashes 10000000 --shards 1 2 4
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from consentry.signals.hashing.shards import ShardedIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=10_000_000)
    parser.add_argument("--shards", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--cut", choices=["range", "prefix"], default="range")
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=1_000)
    args = parser.parse_args()
    rng = np.random.default_rng(20261201)
    words = rng.integers(0, 2**64, size=(args.hashes, 4), dtype=np.uint64)
    payload = np.arange(args.hashes, dtype=np.int64)
    near = words[rng.integers(0, args.hashes, args.queries // 2)].copy()
    for row, flips in enumerate(rng.integers(0, 32, len(near))):
        for bit in rng.choice(256, flips, replace=False):
            near[row, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    queries = np.concatenate([near, rng.integers(0, 2**64, size=(args.queries - len(near), 4),
                                                 dtype=np.uint64)])
    reference = None
    for shards in args.shards:
        t = time.monotonic()
        index = ShardedIndex.build(words, payload, shards, args.cut)
        build = time.monotonic() - t
        t = time.monotonic()
        answer = index.search(queries)
        batched = args.queries / (time.monotonic() - t)
        times = []
        for row in queries[: args.single]:
            t = time.perf_counter()
            index.search(row[None, :])
            times.append(time.perf_counter() - t)
        if reference is None:
            reference = answer
        exact = all(np.array_equal(a, b) for a, b in zip(answer, reference, strict=True))
        print(json.dumps({
            "hashes": args.hashes, "shards": shards, "cut": args.cut, "build_s": round(build, 1),
            "batched_lookups_per_s": round(batched),
            "single_p50_ms": round(float(np.percentile(times, 50)) * 1e3, 2),
            "single_p99_ms": round(float(np.percentile(times, 99)) * 1e3, 2),
            "mb_per_shard": [round(s.nbytes / 1e6) for s in index.shards],
            "found": len(answer[0]), "same_as_1_shard": exact}), flush=True)
        del index


if __name__ == "__main__":
    main()
