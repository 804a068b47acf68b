"""Exact vector search on MongoDB gives the in-memory store's results on the same data."""

from __future__ import annotations

import numpy as np
import pytest

from waypoint.errors import ConfigError
from waypoint.store.base import PutOp
from waypoint.store.memory import InMemoryStore

DIMS = 16
_rng = np.random.default_rng(7)
_TABLE = {f"w{i}": _rng.normal(size=DIMS).tolist() for i in range(40)}


def embed(texts: list[str]) -> list[list[float]]:
    """Each text is a known word with a fixed random vector (unknown words: a constant)."""
    return [_TABLE.get(t, [1.0] * DIMS) for t in texts]


def _items() -> list[PutOp]:
    ops = []
    for i in range(60):
        ns = ("docs", f"u{i % 3}") if i % 5 else ("docs",)
        tags = [f"w{i % 40}", f"w{(i * 7) % 40}"][: 1 + i % 2]
        value = {"tags": tags, "kind": "ab"[i % 2], "n": i}
        ops.append(PutOp(ns, f"k{i:02d}", value, index=False if i % 11 == 0 else None))
    ops.append(PutOp(("other",), "far", {"tags": ["w1"], "kind": "a", "n": -1}))
    return ops


SEARCHES = [
    dict(query="w3"), dict(query="w3", limit=5, offset=3), dict(query="w17", filter={"kind": "b"}),
    dict(query="w5", filter={"n": {"$gte": 20}}, limit=30), dict(query="w9", prefix=("docs", "u1")),
    dict(query="w1", prefix=()), dict(query="w2", filter={"tags": {"$eq": ["w2"]}}, limit=3),
    dict(query="zzz", limit=100),
]


async def test_exact_search_equals_in_memory(mongo_store_factory) -> None:
    index = {"dims": DIMS, "embed": embed, "fields": ["tags[*]"]}
    reference = InMemoryStore(index=index)
    reference.batch(_items())
    async with mongo_store_factory(index=index) as store:
        await store.abatch(_items())  # one batch: one timestamp in both stores, ties by key
        for search in SEARCHES:
            args = dict(search)
            prefix = args.pop("prefix", ("docs",))
            found = await store.asearch(prefix, **args)
            expected = reference.search(prefix, **args)
            assert [i.key for i in found] == [i.key for i in expected], search
            for got, want in zip(found, expected, strict=True):
                assert got.value == want.value
                if want.score is None:
                    assert got.score is None
                else:
                    assert got.score == pytest.approx(want.score, abs=1e-6)


async def test_vectors_are_stored_as_float32_binary(sync_store) -> None:
    from waypoint.store.mongodb import MongoDBStore

    index = {"dims": DIMS, "embed": embed, "fields": ["t"]}
    store = MongoDBStore(sync_store.client, sync_store.db.name, index=index)
    store.put(("v",), "k", {"t": "w4"})
    raw = store.collection.find_one({"key": "k"})
    [blob] = raw["vectors"]
    stored = np.frombuffer(blob, dtype="<f4")
    expected = np.asarray(_TABLE["w4"], dtype=np.float32)
    assert stored == pytest.approx(expected / np.linalg.norm(expected), abs=1e-6)
    assert "embedding" not in raw and "ns_prefixes" not in raw  # Atlas-only fields
    store.put(("v",), "k", {"t": "w4"}, index=False)
    assert "vectors" not in store.collection.find_one({"key": "k"})


async def test_changed_dims_are_a_clear_error(sync_store) -> None:
    from waypoint.store.mongodb import MongoDBStore

    two = {"dims": 2, "embed": lambda texts: [[1.0, 0.0]] * len(texts)}
    small = MongoDBStore(sync_store.client, sync_store.db.name, index=two)
    small.put(("v",), "k", {"t": "x"})
    big = MongoDBStore(sync_store.client, sync_store.db.name, index={"dims": DIMS, "embed": embed})
    with pytest.raises(ConfigError, match="dims=16"):
        big.search(("v",), query="w1")
