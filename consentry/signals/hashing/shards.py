"""The MIH index (consentry.signals.hashing.mih) split into shards that answer one query
together, exactly as the unsharded index would.

Why shard: one 10M-hash index needs about 1 GB of RAM and one machine's memory bandwidth;
shards can live in different processes, Ray actors or machines, each holding a slice. Two
ways to cut:

- ``range``: by payload (the entry id the caller stores with each hash): shard i holds ids
  in [bounds[i], bounds[i+1]). New entries (higher ids) go to the last shard; a shard is
  retired or rebuilt by id range.
- ``prefix``: by the hash's top bits: balanced for random hashes whatever the ids.

Either way a query is sent to every shard (a near-duplicate can differ in any bit, so no
shard can be skipped) and the answers are merged: each indexed hash is in exactly one shard,
so the union is the unsharded answer. Results are sorted by (query, payload) so that the
order does not depend on the cut. A shard is anything with ``search(queries, threshold)``
returning (query rows, payloads, distances): an ``MIHIndex`` here, or a stub forwarding to a
remote actor (consentry.pipeline.ray_engine).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from consentry.signals.hashing.mih import WORDS, MIHIndex

Cut = Literal["range", "prefix"]
FORMAT = 1


class Shard(Protocol):
    def search(self, queries: np.ndarray, threshold: int | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def shard_of(words: np.ndarray, payload: np.ndarray, cut: Cut, bounds: Sequence[int],
             shards: int) -> np.ndarray:
    """The shard number of each (hash, payload)."""
    if cut == "prefix":
        bits = max(0, int(np.ceil(np.log2(shards))))
        top = (words[:, 0].byteswap() >> np.uint64(64 - bits)) if bits else np.zeros(len(words), np.uint64)
        return (top.astype(np.int64) * shards) >> bits  # 2**bits prefixes onto `shards` shards
    return np.searchsorted(np.asarray(bounds[1:], dtype=np.int64), payload, side="right")


class ShardedIndex:
    """Shards of one logical index; ``search`` asks them all at once and merges."""

    def __init__(self, shards: Sequence[Shard], cut: Cut, bounds: Sequence[int] = (),
                 threshold: int = 31) -> None:
        self.shards = list(shards)
        self.cut, self.bounds, self.threshold = cut, list(bounds), threshold
        self._pool: ThreadPoolExecutor | None = None  # kept: starting threads per query cost ms

    @classmethod
    def build(cls, words: np.ndarray, payload: np.ndarray, shards: int, cut: Cut = "range",
              threshold: int = 31, threads: int | None = None) -> ShardedIndex:
        """Cut ``words`` (n, 4 uint64) with their payloads into ``shards`` MIH indexes.
        ``range`` cuts at payload quantiles, so the shards hold equal counts."""
        words = np.ascontiguousarray(words, dtype=np.uint64).reshape(-1, WORDS)
        payload = np.asarray(payload, dtype=np.int64)
        bounds: list[int] = []
        if cut == "range":
            ordered = np.sort(payload)
            cuts = ([int(ordered[len(ordered) * i // shards]) for i in range(1, shards)]
                    if len(ordered) else [])
            bounds = [int(np.iinfo(np.int64).min), *cuts]
        which = shard_of(words, payload, cut, bounds, shards)
        parts = []
        for i in range(shards):
            index = MIHIndex(threshold, threads)
            mask = which == i
            index.add(words[mask], payload[mask])
            parts.append(index)
        return cls(parts, cut, bounds, threshold)

    def __len__(self) -> int:
        return sum(len(s) for s in self.shards if isinstance(s, MIHIndex))

    def add(self, words: np.ndarray, payload: np.ndarray) -> None:
        """Route new hashes to their shards (local shards only)."""
        words = np.ascontiguousarray(words, dtype=np.uint64).reshape(-1, WORDS)
        payload = np.asarray(payload, dtype=np.int64)
        which = shard_of(words, payload, self.cut, self.bounds, len(self.shards))
        for i, shard in enumerate(self.shards):
            mask = which == i
            if mask.any():
                if not isinstance(shard, MIHIndex):
                    raise TypeError("add to a remote shard on the machine that holds it")
                shard.add(words[mask], payload[mask])

    def remove(self, payloads: Iterable[int]) -> None:
        hidden = list(payloads)
        for shard in self.shards:
            if isinstance(shard, MIHIndex):
                shard.remove(hidden)

    def search(self, queries: np.ndarray, threshold: int | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query row, payload, distance) of every hash within ``threshold`` in any shard,
        sorted by query row then payload."""
        threshold = self.threshold if threshold is None else threshold
        queries = np.ascontiguousarray(queries, dtype=np.uint64).reshape(-1, WORDS)
        if len(self.shards) == 1:
            parts = [self.shards[0].search(queries, threshold)]
        else:  # numpy and remote calls release the GIL: the shards work at the same time
            if self._pool is None:
                self._pool = ThreadPoolExecutor(len(self.shards))
            parts = list(self._pool.map(lambda s: s.search(queries, threshold), self.shards))
        return merge(parts)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for i, shard in enumerate(self.shards):
            if not isinstance(shard, MIHIndex):
                raise TypeError("save a remote shard on the machine that holds it")
            shard.save(folder / f"shard-{i:03d}")
        (folder / "shards.json").write_text(json.dumps(
            {"format": FORMAT, "cut": self.cut, "bounds": self.bounds, "shards": len(self.shards),
             "threshold": self.threshold}))

    @staticmethod
    def layout(folder: Path) -> dict:
        return json.loads((folder / "shards.json").read_text())

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = True, threads: int | None = None) -> ShardedIndex:
        layout = cls.layout(folder)
        shards = [MIHIndex.load(folder / f"shard-{i:03d}", mmap=mmap, threads=threads)
                  for i in range(layout["shards"])]
        return cls(shards, layout["cut"], layout["bounds"], layout["threshold"])


def merge(parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate shard answers, sorted by (query row, payload)."""
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)
    q = np.concatenate([np.asarray(p[0], dtype=np.int64) for p in parts])
    pay = np.concatenate([np.asarray(p[1], dtype=np.int64) for p in parts])
    d = np.concatenate([np.asarray(p[2], dtype=np.int32) for p in parts])
    order = np.lexsort((pay, q))
    return q[order], pay[order], d[order]
