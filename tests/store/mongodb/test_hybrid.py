"""Keyword and hybrid search on MongoDB (BM25 over the candidates' stored texts, computed in
the client) give the in-memory store's results on the same data."""

from __future__ import annotations

import pytest

from tests.store.mongodb.test_vectors import DIMS, embed
from waypoint.store.base import PutOp
from waypoint.store.memory import InMemoryStore

WORDS = ["w1", "w2", "w3", "w4", "err", "4711", "printer", "widget"]


def _items() -> list[PutOp]:
    ops = []
    for i in range(40):
        tags = [WORDS[i % 8], WORDS[(i * 3) % 8], WORDS[(i * 5 + 1) % 8]][: 1 + i % 3]
        ops.append(PutOp(("docs", f"u{i % 2}"), f"k{i:02d}", {"tags": tags, "n": i},
                         index=False if i % 13 == 0 else None))
    return ops


SEARCHES = [
    dict(query="err 4711", mode="keyword"), dict(query="printer w1", mode="hybrid"),
    dict(query="widget", mode="keyword", limit=3, offset=2),
    dict(query="w2 err", mode="hybrid", limit=5, offset=4), dict(query="nothing", mode="keyword"),
    dict(query="nothing", mode="hybrid", limit=3),
]


async def test_keyword_and_hybrid_search_equal_in_memory(mongo_store_factory) -> None:
    index = {"dims": DIMS, "embed": embed, "fields": ["tags[*]"], "hybrid": True}
    reference = InMemoryStore(index=index)
    reference.batch(_items())
    async with mongo_store_factory(index=index) as store:
        await store.abatch(_items())  # one batch: one timestamp in both stores, ties by key
        for search in SEARCHES:  # over every item, BM25's statistics are the same in both
            found = await store.asearch((), **search)
            expected = reference.search((), **search)
            assert [i.key for i in found] == [i.key for i in expected], search
            assert [i.score for i in found] == pytest.approx([i.score for i in expected]), search
            assert [i.value for i in found] == [i.value for i in expected]
        assert len(await store.asearch((), query="w1", mode="keyword", limit=100)) > 3


async def test_texts_are_stored_only_for_indexed_items_and_never_returned(sync_store) -> None:
    from waypoint.store.mongodb import MongoDBStore

    index = {"dims": DIMS, "embed": embed, "fields": ["t"], "hybrid": True}
    store = MongoDBStore(sync_store.client, sync_store.db.name, index=index)
    store.put(("v",), "k", {"t": "ERR-4711"})
    assert store.collection.find_one({"key": "k"})["texts"] == ["ERR-4711"]
    assert store.get(("v",), "k").value == {"t": "ERR-4711"}
    [hit] = store.search(("v",), query="err", mode="keyword")
    assert hit.value == {"t": "ERR-4711"} and hit.score > 0
    store.put(("v",), "k", {"t": "ERR-4711"}, index=False)
    assert "texts" not in store.collection.find_one({"key": "k"})
    assert store.search(("v",), query="err", mode="keyword") == []
    plain = MongoDBStore(sync_store.client, sync_store.db.name, index={**index, "hybrid": False})
    with pytest.raises(ValueError, match='"hybrid": True'):
        plain.search(("v",), query="err", mode="hybrid")
