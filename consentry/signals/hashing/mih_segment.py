"""The immutable piece of the MIH index (consentry.signals.hashing.mih): one ``Segment`` of
256-bit hashes with a direct-addressed bucket table per chunk, persisted as ``.npy`` files and
memory-mapped on load, and the bit arithmetic it is built from (hex <-> uint64 words, popcount
distance, chunk layout and radii). ``MIHIndex`` composes segments; this module knows nothing
of payloads, removals or folders of segments."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HASH_BYTES = 32
WORDS = 4  # 256 bits as four uint64 words
BRUTE_FORCE_BELOW = 4096  # tiny segments: a popcount scan beats table probes
MAX_KEY_BITS = 23  # bucket tables of 2**23 uint16 = 16 MB per chunk


def hex_to_words(hex_hashes: Iterable[str]) -> np.ndarray:
    """64-hex-character PDQ hashes -> (n, 4) uint64 (raw bytes, native word order)."""
    raw = b"".join(bytes.fromhex(h) for h in hex_hashes)
    return np.frombuffer(raw, dtype=np.uint64).reshape(-1, WORDS).copy()


def words_to_hex(words: np.ndarray) -> list[str]:
    raw = np.ascontiguousarray(words, dtype=np.uint64).tobytes()
    return [raw[i : i + HASH_BYTES].hex() for i in range(0, len(raw), HASH_BYTES)]


def popcount_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distance between rows of two broadcastable (..., 4) uint64 arrays (uint16)."""
    counts = np.bitwise_count(np.bitwise_xor(a, b))  # uint8 per word, each <= 64
    # Four column adds beat .sum(axis=-1) on a short axis several times over.
    return counts[..., 0].astype(np.uint16) + counts[..., 1] + counts[..., 2] + counts[..., 3]


def _chunk_values(words: np.ndarray, start: int, width: int) -> np.ndarray:
    """Bits [start, start+width) of each 256-bit row (bit 0 = top bit of word 0)."""
    k, o = divmod(start, 64)
    w = words[:, k]
    if o + width <= 64:
        out = (w >> np.uint64(64 - o - width)) & np.uint64((1 << width) - 1)
    else:
        hi_bits = 64 - o
        lo_bits = width - hi_bits
        hi = (w & np.uint64((1 << hi_bits) - 1)) << np.uint64(lo_bits)
        out = hi | (words[:, k + 1] >> np.uint64(64 - lo_bits))
    return out.astype(np.uint32)


def _all_chunk_values(words: np.ndarray, chunks: int, width: int) -> np.ndarray:
    """(rows, chunks) uint32: ``_chunk_values`` of every chunk at once (bits unpacked
    top bit first, then each chunk's bits weighted)."""
    bits = np.unpackbits(np.ascontiguousarray(words, dtype=np.uint64).astype(">u8").view(np.uint8), axis=1)
    weights = (np.uint64(1) << np.arange(width - 1, -1, -1, dtype=np.uint64))
    chunked = bits[:, : chunks * width].reshape(-1, chunks, width).astype(np.uint64)
    return (chunked @ weights).astype(np.uint32)


def _flip_masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit mask with at most ``radius`` bits set (radius 0 first)."""
    masks = [0]
    from itertools import combinations

    for r in range(1, radius + 1):
        masks.extend(sum(1 << b for b in bits) for bits in combinations(range(width), r))
    return np.array(masks, dtype=np.uint32)


def chunk_radii(chunks: int, threshold: int) -> list[int]:
    """Search radius per chunk; -1 = chunk not searched.

    Generalised pigeonhole: if chunk i is searched within r_i and sum(r_i + 1) > threshold,
    a hash within ``threshold`` is within r_i on at least one chunk. So share T + 1 units
    over the chunks: with 11 chunks and T = 31, ten chunks at radius 2 and one at radius 1.
    """
    units, extra = divmod(threshold + 1, chunks)
    return [units + (i < extra) - 1 for i in range(chunks)]


def probe_count(width: int, radius: int) -> int:
    return sum(math.comb(width, i) for i in range(radius + 1))


def choose_layout(n: int, threshold: int = 31) -> tuple[int, int]:
    """(chunks m, chunk width w) minimising the lookup cost for n hashes.

    Cost model (measured, docs/performance.md): a probe costs ~1 unit (table reads), a
    candidate ~4 units (an id read, a random 32-byte gather from RAM, a popcount). Chunks of
    about log2(n) bits win, as MIH theory says; the width is capped so tables stay small.
    """
    best: tuple[float, int, int] = (math.inf, 16, 16)
    for m in range(6, 33):
        w = min(256 // m, MAX_KEY_BITS)
        probes = sum(probe_count(w, r) for r in chunk_radii(m, threshold) if r >= 0)
        cost = probes * (1.0 + 4.0 * n / 2**w)
        if cost < best[0]:
            best = (cost, m, w)
    return best[1], best[2]


BLOCK_BITS = 8  # bucket tables: a uint32 base per block of 256 values + 257 uint16 offsets


def _bucket_tables(keys: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket v spans ids[base[b] + local[b, o] : base[b] + local[b, o + 1]] for b = v >> 8,
    o = v & 255. Each block keeps a 257th offset (its end), so both bounds of a bucket are
    adjacent in ``local`` (one cache line) and flat index b * 257 + o is simply v + (v >> 8).
    Half the RAM of a uint32 table per value. Built in uint32 from the distinct keys (not a
    2**width int64 histogram): a 1M-hash segment's build needs ~0.3 GB, not ~0.6."""
    block = 2**BLOCK_BITS
    values, counts = np.unique(keys, return_counts=True)
    per_block = np.bincount(values >> BLOCK_BITS, weights=counts, minlength=2 ** (width - BLOCK_BITS))
    # Offsets within a block never exceed its count: uint16 from the start when they fit.
    fits = per_block.max(initial=0) <= np.iinfo(np.uint16).max
    local = np.zeros((2 ** (width - BLOCK_BITS), block + 1), dtype=np.uint16 if fits else np.uint32)
    values = values.astype(np.int64)
    local.ravel()[values + (values >> BLOCK_BITS) + 1] = counts
    del values, counts
    np.cumsum(local, axis=1, out=local)
    base = np.zeros(local.shape[0], dtype=np.uint32)
    np.cumsum(local[:-1, -1], dtype=np.uint32, out=base[1:])
    # uint16 unless a block holds over 65535 hashes (e.g. a bank full of one repeated hash).
    return base, local.ravel()


@dataclass
class Segment:
    """One immutable block of hashes with its chunk tables (or none when tiny)."""

    words: np.ndarray  # (n, 4) uint64
    chunks: int  # 0 = brute-force segment
    width: int
    bases: np.ndarray | None  # (m, 2**(w-8)) uint32: first id position of each block of 256 values
    locals_: np.ndarray | None  # (m, 2**(w-8) * 257) uint16 offsets within the block (see _bucket_tables)
    ids: np.ndarray | None  # (m, n) uint32, local ids sorted by chunk value

    @property
    def size(self) -> int:
        return int(self.words.shape[0])

    @classmethod
    def build(cls, words: np.ndarray, threshold: int = 31) -> Segment:
        words = np.ascontiguousarray(words, dtype=np.uint64)
        n = words.shape[0]
        if n < BRUTE_FORCE_BELOW:
            return cls(words, 0, 0, None, None, None)
        m, w = choose_layout(n, threshold)
        bases = np.empty((m, 2 ** (w - BLOCK_BITS)), dtype=np.uint32)
        locals_ = np.empty((m, 2 ** (w - BLOCK_BITS) * (2**BLOCK_BITS + 1)), dtype=np.uint16)
        ids = np.empty((m, n), dtype=np.uint32)
        for j in range(m):  # each table written in place: no list of tables stacked at the end
            keys = _chunk_values(words, j * w, w)
            ids[j] = np.argsort(keys, kind="stable")
            bases[j], local = _bucket_tables(keys, w)
            if local.dtype != locals_.dtype:
                locals_ = locals_.astype(np.uint32)
            locals_[j] = local
            del keys, local
        return cls(words, m, w, bases, locals_, ids)

    def search(self, queries: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query row, local id, distance) for every pair within ``threshold``.

        The chunks that share a radius are probed together, in one pass of numpy calls over
        a (query, chunk, probe) array: a lookup costs a few dozen numpy calls whatever the
        number of chunks (one pass per chunk made a single query ~1.3 ms of call overhead
        for ~0.3 ms of table reads; the HTTP service's raw lookups are mostly single)."""
        if self.size == 0 or queries.shape[0] == 0:
            return empty_result()
        if self.chunks == 0:
            return _brute(self.words, queries, threshold)
        assert self.bases is not None and self.locals_ is not None and self.ids is not None
        locals_, bases, ids, words = self._flat
        keys = _all_chunk_values(queries, self.chunks, self.width)  # (q, m) uint32
        radii = np.array(chunk_radii(self.chunks, threshold))
        found_q, found_id = [], []
        shift = np.uint32(BLOCK_BITS)
        for radius in np.unique(radii[radii >= 0]).tolist():
            chunks = np.flatnonzero(radii == radius)
            masks = _masks(self.width, radius)
            per_query = chunks.size * masks.size
            probes = (keys[:, chunks, None] ^ masks[None, None, :]).ravel()  # (q, chunk, probe)
            chunk_of = np.tile(np.repeat(chunks, masks.size), keys.shape[0])
            # np.take on flat tables, not fancy indexing: several times faster on big arrays.
            flat = chunk_of * self._local_len + (probes + (probes >> shift))
            lo = np.take(locals_, flat)
            counts = np.take(locals_, flat + 1) - lo
            hit = np.flatnonzero(counts)
            if hit.size == 0:
                continue
            hit_chunk = chunk_of[hit]
            starts = np.take(bases, hit_chunk * self._base_len + (probes[hit] >> shift)
                             ).astype(np.int64) + lo[hit]
            counts = counts[hit].astype(np.int64)
            total = int(counts.sum())
            # Expand each bucket [start, start+count) into positions without a Python loop.
            run_start = np.cumsum(counts) - counts
            positions = np.arange(total, dtype=np.int64) + np.repeat(starts - run_start, counts)
            positions += np.repeat(hit_chunk * self.size, counts)
            cand = np.take(ids, positions)
            cand_q = np.repeat(hit // per_query, counts)
            dist = popcount_distance(np.take(words, cand, axis=0), np.take(queries, cand_q, axis=0))
            keep = dist <= threshold
            found_q.append(cand_q[keep])
            found_id.append(cand[keep].astype(np.int64))
        if not found_q:
            return empty_result()
        q = np.concatenate(found_q)
        ids_found = np.concatenate(found_id)
        # A match close on several chunks is found once per chunk: keep one.
        key = np.unique(q * self.size + ids_found)
        q, ids_found = key // self.size, key % self.size
        dist = popcount_distance(np.take(words, ids_found, axis=0), np.take(queries, q, axis=0))
        return q, ids_found, dist.astype(np.int32)

    @functools.cached_property
    def _flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The tables as flat plain-ndarray views (of the same memory map: no copy), so the
        lookup's calls skip numpy's memmap subclass handling."""
        assert self.bases is not None and self.locals_ is not None and self.ids is not None
        return (np.asarray(self.locals_).reshape(-1), np.asarray(self.bases).reshape(-1),
                np.asarray(self.ids).reshape(-1), np.asarray(self.words))

    @property
    def _local_len(self) -> int:
        assert self.locals_ is not None
        return int(self.locals_.shape[1])

    @property
    def _base_len(self) -> int:
        assert self.bases is not None
        return int(self.bases.shape[1])

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "words.npy", self.words)
        if self.chunks:
            np.save(folder / "bases.npy", self.bases)
            np.save(folder / "locals.npy", self.locals_)
            np.save(folder / "ids.npy", self.ids)
        (folder / "layout.json").write_text(json.dumps({"chunks": self.chunks, "width": self.width}))

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = True) -> Segment:
        mode = "r" if mmap else None
        layout = json.loads((folder / "layout.json").read_text())
        words = np.load(folder / "words.npy", mmap_mode=mode)
        if layout["chunks"] == 0:
            return cls(np.asarray(words), 0, 0, None, None, None)
        return cls(words, layout["chunks"], layout["width"],
                   np.load(folder / "bases.npy", mmap_mode=mode),
                   np.load(folder / "locals.npy", mmap_mode=mode),
                   np.load(folder / "ids.npy", mmap_mode=mode))

    @property
    def nbytes(self) -> int:
        tables = (self.bases, self.locals_, self.ids)
        extra = sum(t.nbytes for t in tables if t is not None)
        return int(self.words.nbytes) + extra


_MASK_CACHE: dict[tuple[int, int], np.ndarray] = {}


def _masks(width: int, radius: int) -> np.ndarray:
    key = (width, radius)
    if key not in _MASK_CACHE:
        _MASK_CACHE[key] = _flip_masks(width, radius)
    return _MASK_CACHE[key]


def compact_ints(values: np.ndarray) -> np.ndarray:
    """Payloads as int32 when they fit (40 MB less at 10M hashes), else int64."""
    values = np.asarray(values, dtype=np.int64)
    fits = values.size == 0 or (values.min() >= 0 and values.max() < 2**31)
    return values.astype(np.int32) if fits else values


def empty_result() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)


def _brute(words: np.ndarray, queries: np.ndarray, threshold: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    qs, ids, ds = [], [], []
    step = max(1, 2**22 // max(1, words.shape[0]))  # bound the (q, n) distance matrix
    for lo in range(0, queries.shape[0], step):
        dist = popcount_distance(words[None, :, :], queries[lo : lo + step, None, :])
        q, i = np.nonzero(dist <= threshold)
        qs.append(q + lo)
        ids.append(i)
        ds.append(dist[q, i])
    return (np.concatenate(qs).astype(np.int64), np.concatenate(ids).astype(np.int64),
            np.concatenate(ds).astype(np.int32))
