"""The multi-index hashing index is exact: the same pairs as a brute-force scan, always."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from consentry.signals.hashing.mih import (
    BRUTE_FORCE_BELOW,
    MIHIndex,
    Segment,
    choose_layout,
    chunk_radii,
    hex_to_words,
    popcount_distance,
    words_to_hex,
)


def _flip(words: np.ndarray, distances: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    bits = np.unpackbits(words.view(np.uint8), axis=1)
    for row, d in enumerate(distances):
        bits[row, rng.choice(256, int(d), replace=False)] ^= 1
    return np.packbits(bits, axis=1).view(np.uint64)


def _brute(words: np.ndarray, queries: np.ndarray, threshold: int) -> set[tuple[int, int, int]]:
    dist = popcount_distance(words[None, :, :], queries[:, None, :])
    q, i = np.nonzero(dist <= threshold)
    return set(zip(q.tolist(), i.tolist(), dist[q, i].tolist(), strict=True))


@pytest.fixture(scope="module")
def planted() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """30k random hashes; 400 queries planted at distances 0..40 from known rows, 100 random."""
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**64, size=(30_000, 4), dtype=np.uint64)
    sources = rng.integers(0, len(words), 400)
    near = _flip(words[sources], np.arange(400) % 41, rng)
    queries = np.concatenate([near, rng.integers(0, 2**64, size=(100, 4), dtype=np.uint64)])
    return words, queries, sources


def _pairs(index: MIHIndex, queries: np.ndarray, threshold: int) -> set[tuple[int, int, int]]:
    q, p, d = index.search(queries, threshold)
    return set(zip(q.tolist(), p.tolist(), d.tolist(), strict=True))


@pytest.mark.parametrize("threshold", [0, 10, 31, 40])
def test_same_pairs_as_brute_force(planted, threshold: int) -> None:
    words, queries, sources = planted
    index = MIHIndex()
    index.add(words, np.arange(len(words)))
    assert index.segments[0].chunks > 0  # the table path, not the small brute-force one
    found = _pairs(index, queries, threshold)
    assert found == _brute(words, queries, threshold)
    # Every planted near-duplicate within the threshold is among them (recall 100%).
    for row, src in enumerate(sources.tolist()):
        if row % 41 <= threshold:
            assert (row, src, row % 41) in found


def test_segments_save_load_and_removal(planted, tmp_path: Path) -> None:
    words, queries, _ = planted
    index = MIHIndex()
    for lo in range(0, len(words), 7_000):  # incremental adds: new segments, merged as they grow
        index.add(words[lo : lo + 7_000], np.arange(lo, min(lo + 7_000, len(words))) + 1_000)
    assert len(index) == len(words)
    expected = {(q, i + 1_000, d) for q, i, d in _brute(words, queries, 31)}
    assert _pairs(index, queries, 31) == expected
    index.save(tmp_path / "idx")
    loaded = MIHIndex.load(tmp_path / "idx")  # memory-mapped
    assert _pairs(loaded, queries, 31) == expected
    gone = {p for _, p, _ in list(expected)[:5]}
    loaded.remove(gone)
    assert _pairs(loaded, queries, 31) == {t for t in expected if t[1] not in gone}

    # An add writes only its own new segment; the big one on disk is not rewritten.
    def on_disk() -> dict[str, int]:
        return {p.parent.name: p.stat().st_mtime_ns for p in (tmp_path / "idx").glob("seg-*/words.npy")}

    before = on_disk()
    extra = words[:10] ^ np.uint64(1)
    loaded.add(extra, np.arange(10) + 90_000)
    loaded.save(tmp_path / "idx")
    after = on_disk()
    assert all(after.get(name) == mtime for name, mtime in before.items())
    assert len(after) == len(before) + 1
    reloaded = MIHIndex.load(tmp_path / "idx")
    assert (0, 90_000, 0) in _pairs(reloaded, words[:1] ^ np.uint64(1), 0)


def test_repeated_hashes_and_tiny_segments() -> None:
    rng = np.random.default_rng(3)
    same = np.repeat(rng.integers(0, 2**64, size=(1, 4), dtype=np.uint64), 70_000, axis=0)
    seg = Segment.build(same)  # one bucket far over 65535 entries: wide tables
    _q, ids, d = seg.search(same[:1], 0)
    assert len(ids) == 70_000 and set(d.tolist()) == {0}
    small = rng.integers(0, 2**64, size=(BRUTE_FORCE_BELOW - 1, 4), dtype=np.uint64)
    tiny = Segment.build(small)
    assert tiny.chunks == 0
    _q, ids, d = tiny.search(small[5:6], 31)
    assert ids.tolist() == [5] and d.tolist() == [0]


def test_pigeonhole_radii_cover_the_threshold() -> None:
    for m in range(6, 33):
        for t in range(0, 64):
            radii = chunk_radii(m, t)
            assert sum(r + 1 for r in radii) > t  # a pair within t is found on some chunk
    assert chunk_radii(11, 31) == [2] * 10 + [1]
    assert choose_layout(10_000_000) == (11, 23)


def test_hex_round_trip() -> None:
    hexes = ["f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22", "00" * 32, "ff" * 32]
    assert words_to_hex(hex_to_words(hexes)) == hexes
    d = popcount_distance(hex_to_words(hexes[1:2]), hex_to_words(hexes[2:3]))
    assert d.tolist() == [256]  # no overflow at the maximum distance
