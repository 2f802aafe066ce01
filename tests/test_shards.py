"""A sharded MIH index answers every query exactly as the unsharded index does, whichever way
it is cut, after adds and removes, and after a save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from consentry.signals.hashing.mih import MIHIndex
from consentry.signals.hashing.shards import ShardedIndex, merge


def _data(n: int = 30_000, queries: int = 600, seed: int = 7):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    payload = rng.permutation(n).astype(np.int64) * 3 + 100  # ids in no particular order
    picks = rng.integers(0, n, queries // 2)
    near = words[picks].copy()
    for row, flips in enumerate(rng.integers(0, 40, len(near))):  # 0-39 bits off
        for bit in rng.choice(256, flips, replace=False):
            near[row, bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    random = rng.integers(0, 2**64, size=(queries - len(near), 4), dtype=np.uint64)
    return words, payload, np.concatenate([near, random])


def _unsharded(words, payload, queries, threshold=31):  # type: ignore[no-untyped-def]
    index = MIHIndex(threshold)
    index.add(words, payload)
    return merge([index.search(queries, threshold)])


@pytest.mark.parametrize("cut", ["range", "prefix"])
@pytest.mark.parametrize("shards", [1, 2, 3, 4])
def test_sharded_answers_equal_unsharded(cut: str, shards: int) -> None:
    words, payload, queries = _data()
    expected = _unsharded(words, payload, queries)
    assert len(expected[0]) > 200  # the planted near-duplicates within 31 are found
    sharded = ShardedIndex.build(words, payload, shards, cut)  # type: ignore[arg-type]
    assert sum(len(s) for s in sharded.shards) == len(words)
    if shards > 1:  # every shard holds a real share
        assert min(len(s) for s in sharded.shards) > len(words) / shards / 2
    got = sharded.search(queries)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    q16 = sharded.search(queries, 16)  # another threshold, same equality
    for a, b in zip(q16, _unsharded(words, payload, queries, 16), strict=True):
        np.testing.assert_array_equal(a, b)


def test_adds_removes_and_a_reload_keep_the_equality(tmp_path: Path) -> None:
    words, payload, queries = _data(n=20_000, seed=11)
    first, later = slice(0, 15_000), slice(15_000, None)
    sharded = ShardedIndex.build(words[first], payload[first], 3, "range")
    sharded.add(words[later], payload[later])
    gone = payload[:500].tolist()
    sharded.remove(gone)
    reference = MIHIndex(31)
    reference.add(words, payload)
    reference.remove(gone)
    expected = merge([reference.search(queries)])
    sharded.save(tmp_path / "idx")
    loaded = ShardedIndex.load(tmp_path / "idx")
    for index in (sharded, loaded):
        for a, b in zip(index.search(queries), expected, strict=True):
            np.testing.assert_array_equal(a, b)
    assert not set(gone) & set(loaded.search(queries)[1].tolist())
