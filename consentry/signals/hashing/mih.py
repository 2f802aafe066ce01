"""Exact multi-index hashing (MIH) for 256-bit PDQ hashes, in vectorised numpy.

Why: at 10M hashes FAISS's exact flat index manages ~43-140 lookups/s and its multi-hash
index needs gigabytes (docs/performance.md, "Hash matching"). MIH is exact and sublinear:
split the hash into ``m`` disjoint chunks of ``w`` bits and search chunk i within radius r_i,
with sum(r_i + 1) > T: by the pigeonhole principle a hash within distance ``T`` is within r_i
on at least one chunk. Each chunk has a direct-addressed bucket table over the ids sorted by
chunk value, so a lookup enumerates the few thousand chunk values within those radii, gathers
the ids in their buckets and verifies every candidate by popcount on the full 256 bits.
Nothing is approximate: every hash within ``T`` is returned, and nothing beyond it.

A ``Segment`` is immutable and persisted as ``.npy`` files (memory-mapped on load, so
opening a 10M index takes milliseconds). ``MIHIndex`` holds several segments so new hashes
are matchable at once without rebuilding the big one (LSM-style: small segments merge)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

# The segment and its bit arithmetic live in mih_segment; the names importers use are here too.
from consentry.signals.hashing.mih_segment import (
    BRUTE_FORCE_BELOW,
    HASH_BYTES,
    WORDS,
    Segment,
    choose_layout,
    chunk_radii,
    compact_ints,
    empty_result,
    hex_to_words,
    popcount_distance,
    words_to_hex,
)

__all__ = ["BRUTE_FORCE_BELOW", "HASH_BYTES", "WORDS", "MIHIndex", "Segment", "choose_layout",
           "chunk_radii", "hex_to_words", "popcount_distance", "words_to_hex"]

FORMAT_VERSION = 3
QUERY_BATCH = 128


class MIHIndex:
    """Segments of hashes with a payload per hash (an int64 the caller chooses), persisted in
    a folder. ``add`` makes new hashes matchable at once; ``remove`` hides payloads at once.
    """

    def __init__(self, threshold: int = 31, threads: int | None = None) -> None:
        self.threshold = threshold
        self.threads = threads or min(2, len(os.sched_getaffinity(0)))
        self.segments: list[Segment] = []
        self.payloads: list[np.ndarray] = []
        self.names: list[str | None] = []  # folder of each segment once saved
        self._removed: np.ndarray = np.empty(0, np.int64)  # sorted payloads hidden from results
        self.meta: dict = {}

    def __len__(self) -> int:
        return sum(s.size for s in self.segments)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes + p.nbytes for s, p in zip(self.segments, self.payloads, strict=True))

    def add(self, words: np.ndarray, payload: np.ndarray) -> None:
        if len(words) == 0:
            return
        self.segments.append(Segment.build(words, self.threshold))
        self.payloads.append(compact_ints(payload))
        self.names.append(None)
        self._compact()

    def _compact(self) -> None:
        """Merge small segments so lookups touch few of them: rebuild only the small ones,
        and the big one only when the rest reaches half its size (amortised O(n log n))."""
        if len(self.segments) < 2:
            return
        sizes = [s.size for s in self.segments]
        big = max(range(len(sizes)), key=sizes.__getitem__)
        rest = sum(sizes) - sizes[big]
        if rest >= sizes[big] // 2:
            merge = list(range(len(sizes)))
        elif len(self.segments) > 4:
            merge = [i for i in range(len(sizes)) if i != big]
        else:
            return
        words = np.concatenate([np.asarray(self.segments[i].words) for i in merge])
        payload = compact_ints(np.concatenate([self.payloads[i].astype(np.int64) for i in merge]))
        keep = [i for i in range(len(sizes)) if i not in merge]
        self.segments = [self.segments[i] for i in keep] + [Segment.build(words, self.threshold)]
        self.payloads = [self.payloads[i] for i in keep] + [payload]
        self.names = [self.names[i] for i in keep] + [None]

    @property
    def removed(self) -> set[int]:
        return set(self._removed.tolist())

    @removed.setter
    def removed(self, payloads: Iterable[int]) -> None:
        self._removed = np.unique(np.fromiter(payloads, dtype=np.int64))

    def remove(self, payloads: Iterable[int]) -> None:
        self.removed = self.removed | {int(p) for p in payloads}

    def search(self, queries: np.ndarray, threshold: int | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query row, payload, distance) of every indexed hash within ``threshold``."""
        threshold = self.threshold if threshold is None else threshold
        queries = np.ascontiguousarray(queries, dtype=np.uint64).reshape(-1, WORDS)
        # Batches of ~128 queries keep the working arrays in cache; numpy releases the GIL in
        # its loops, so threads share the batches (one thread for a single lookup).
        starts = list(range(0, queries.shape[0], QUERY_BATCH))
        if len(starts) > 1 and self.threads > 1:
            with ThreadPoolExecutor(self.threads) as pool:
                parts = list(pool.map(lambda lo: self._search(queries, lo, threshold), starts))
        else:
            parts = [self._search(queries, lo, threshold) for lo in starts]
        if not parts:
            return empty_result()
        q = np.concatenate([p[0] for p in parts])
        p = np.concatenate([p[1] for p in parts])
        d = np.concatenate([p[2] for p in parts])
        if self._removed.size:
            alive = ~np.isin(p, self._removed)
            q, p, d = q[alive], p[alive], d[alive]
        return q, p, d

    def _search(self, queries: np.ndarray, lo: int, threshold: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        batch = queries[lo : lo + QUERY_BATCH]
        qs, ps, ds = [], [], []
        for segment, payload in zip(self.segments, self.payloads, strict=True):
            q, local, d = segment.search(batch, threshold)
            qs.append(q + lo)
            ps.append(payload[local].astype(np.int64))
            ds.append(d)
        if not qs:
            return empty_result()
        return np.concatenate(qs), np.concatenate(ps), np.concatenate(ds)

    def save(self, folder: Path) -> None:
        """Write segments not yet on disk, then swap the manifest in atomically: an add
        writes only its new segment, and a reader never sees half an index."""
        folder.mkdir(parents=True, exist_ok=True)
        for i, (segment, payload) in enumerate(zip(self.segments, self.payloads, strict=True)):
            name = self.names[i]
            if name is not None and (folder / name).exists():
                continue
            name = f"seg-{uuid.uuid4().hex[:12]}"
            tmp = folder / f"{name}.tmp"
            segment.save(tmp)
            np.save(tmp / "payload.npy", payload)
            tmp.rename(folder / name)
            self.names[i] = name
        np.save(folder / "removed.tmp.npy", self._removed)
        os.replace(folder / "removed.tmp.npy", folder / "removed.npy")
        manifest = {"format": FORMAT_VERSION, "threshold": self.threshold, "segments": self.names,
                    "meta": self.meta}
        (folder / "manifest.tmp").write_text(json.dumps(manifest))
        os.replace(folder / "manifest.tmp", folder / "manifest.json")
        for old in folder.glob("seg-*"):  # merged away (open memory maps stay valid)
            if old.name not in self.names:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = True, threads: int | None = None) -> MIHIndex:
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"index format {manifest.get('format')} is not {FORMAT_VERSION}")
        index = cls(manifest["threshold"], threads)
        index.meta = manifest.get("meta", {})
        for name in manifest["segments"]:
            index.segments.append(Segment.load(folder / name, mmap=mmap))
            index.payloads.append(np.load(folder / name / "payload.npy"))
            index.names.append(name)
        index.removed = np.load(folder / "removed.npy").tolist()
        return index
