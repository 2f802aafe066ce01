"""A sharded MIH index (consentry.signals.hashing.shards) with each shard held by a Ray actor,
so the memory of a shard lives on whichever machine Ray placed it; one query is answered by
all of them together, as the local ``ShardedIndex`` answers it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consentry.pipeline.ray_engine import _ray


class ShardActor:
    """One shard of a sharded MIH index (consentry.signals.hashing.shards), held by a Ray
    actor: the memory of the shard lives on whichever machine Ray placed the actor."""

    def __init__(self, folder: str) -> None:
        from consentry.signals.hashing.mih import MIHIndex

        self.index = MIHIndex.load(Path(folder))

    def search(self, queries: Any, threshold: int | None) -> Any:
        return self.index.search(queries, threshold)


class RemoteShard:
    """The ``Shard`` a ``ShardedIndex`` queries, forwarding to a ``ShardActor``."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def search(self, queries: Any, threshold: int | None = None) -> Any:
        return _ray().get(self.actor.search.remote(queries, threshold))


def ray_sharded_index(folder: Path, *, memory_per_shard: int | None = None) -> Any:
    """A ``ShardedIndex`` saved in ``folder`` with each shard loaded on its own Ray actor
    (``memory_per_shard`` bytes reserved for each, so Ray spreads them over machines)."""
    from consentry.signals.hashing.shards import ShardedIndex

    ray = _ray()
    layout = ShardedIndex.layout(folder)
    options: dict[str, Any] = {"num_cpus": 1}
    if memory_per_shard:
        options["memory"] = memory_per_shard
    remote = ray.remote(**options)(ShardActor)
    shards = [RemoteShard(remote.remote(str(folder / f"shard-{i:03d}")))
              for i in range(layout["shards"])]
    return ShardedIndex(shards, layout["cut"], layout["bounds"], layout["threshold"])
