"""waypoint.langgraph's stores pass waypoint's search ``mode`` through; without it they are
LangGraph's ``search`` unchanged."""

from __future__ import annotations

import pytest
from langgraph.store.base import SearchItem as LgSearchItem
from langgraph.store.base import SearchOp as LgSearchOp

from waypoint.langgraph.stores import InMemoryStore


def embed(texts: list[str]) -> list[list[float]]:
    return [[float("cat" in t or "kitten" in t), 1.0] for t in texts]


INDEX = {"dims": 2, "embed": embed, "fields": ["text"], "hybrid": True}


def _store() -> InMemoryStore:
    store = InMemoryStore(index=INDEX)
    store.put(("d",), "kitten", {"text": "a kitten"})
    store.put(("d",), "ticket", {"text": "printer ERR-4711"})
    return store


def test_mode_passes_through_and_items_are_langgraphs():
    store = _store()
    [hit] = store.search(("d",), query="cat ERR-4711", mode="keyword")
    assert isinstance(hit, LgSearchItem) and hit.key == "ticket" and hit.score > 0
    hybrid = store.search(("d",), query="cat ERR-4711", mode="hybrid", limit=1)
    assert [i.key for i in hybrid] == ["ticket"]
    assert [i.key for i in store.search(("d",), query="cat ERR-4711", limit=1)] == ["kitten"]
    assert store.batch([LgSearchOp(("d",), None, 1, 0, "cat")])[0][0].key == "kitten"
    with pytest.raises(ValueError, match="'vector', 'keyword', 'hybrid'"):
        store.search(("d",), query="x", mode="bm25")


async def test_async_mode_passes_through():
    store = _store()
    [hit] = await store.asearch(("d",), query="err", mode="keyword")
    assert hit.key == "ticket"
    assert [i.key for i in await store.asearch(("d",), query="kitten", limit=1)] == ["kitten"]
