"""Store conformance, hybrid search: ``search(mode=...)`` on every backend, both faces.

Keyword (full-text) relevance fused with vector similarity by reciprocal rank fusion
(``waypoint.store._hybrid``), opt-in with ``index={..., "hybrid": True}``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conformance.test_store import DIMS, VOCAB, index_config, keys
from waypoint.store.base import PutOp, SearchOp


async def test_search_mode_errors_name_the_fix(store_factory, api):
    config, _ = index_config(fields=["text"])
    async with store_factory(index=config) as store:
        await api.call(store, "put", ("m",), "a", {"text": "cat"})
        with pytest.raises(ValueError, match="'vector', 'keyword', 'hybrid'"):
            await api.call(store, "search", ("m",), query="cat", mode="fuzzy")
        for mode in ("keyword", "hybrid"):  # the store has no keyword index: never ignored
            with pytest.raises(ValueError, match="keyword index"):
                await api.call(store, "search", ("m",), query="cat", mode=mode)
            with pytest.raises(ValueError, match="keyword index"):
                await api.call(store, "batch", [SearchOp(("m",), query="cat", mode=mode)])
        with pytest.raises(ValueError, match="pass query="):
            await api.call(store, "search", ("m",), mode="vector")
        vector = await api.call(store, "search", ("m",), query="cat", mode="vector")
        assert keys(vector) == ["a"] and vector[0].score == pytest.approx(1.0, abs=1e-5)
    async with store_factory() as store:
        with pytest.raises(ValueError, match="needs an index"):
            await api.call(store, "search", ("m",), query="cat", mode="vector")
        with pytest.raises(ValueError, match="keyword index|needs an index"):
            await api.call(store, "search", ("m",), query="cat", mode="hybrid")


SYNONYMS = {"kitten": "cat", "feline": "cat", "kitty": "cat", "puppy": "dog"}
"""The hybrid tests' embedder knows meanings, not spellings: synonyms share a dimension and
words outside ``VOCAB`` (error codes, product names) are invisible to it, as to a real model."""


def concept_vector(text: str) -> list[float]:
    v = [0.0] * DIMS
    v[DIMS - 1] = 1.0  # every text has some direction: no zero vectors
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        word = SYNONYMS.get(word, word)
        if word in VOCAB:
            v[VOCAB.index(word)] += 1.0
    return v


def hybrid_index(**extra: Any) -> dict[str, Any]:
    embed = lambda texts: [concept_vector(t) for t in texts]  # noqa: E731
    return {"dims": DIMS, "embed": embed, "fields": ["text"], "hybrid": True, **extra}


PETS_AND_TICKETS = [
    ("kitten", {"text": "a kitten asleep on the sofa", "kind": "pet"}),
    ("feline", {"text": "the feline watches birds", "kind": "pet"}),
    ("kitty", {"text": "kitty wants dinner", "kind": "pet"}),
    ("ticket", {"text": "the printer shows ERR-4711 in red", "kind": "ticket"}),
    ("food", {"text": "pizza pasta tonight", "kind": "note"}),
]


async def test_hybrid_finds_what_only_keywords_match(store_factory, api):
    async with store_factory(index=hybrid_index()) as store:
        await api.call(store, "batch", [PutOp(("h",), k, v) for k, v in PETS_AND_TICKETS])
        query = "cat ERR-4711"
        # Vectors alone: the three cats first, the ticket (its code unknown to the model) 4th.
        vector = await api.call(store, "search", ("h",), query=query, limit=3, mode="vector")
        assert sorted(keys(vector)) == ["feline", "kitten", "kitty"]
        default = await api.call(store, "search", ("h",), query=query, limit=3)
        assert sorted(keys(default)) == sorted(keys(vector))  # mode=None: LangGraph's meaning
        # Hybrid: only the ticket holds a query word, so keyword rank 1 + vector rank 4 wins.
        hybrid = await api.call(store, "search", ("h",), query=query, limit=3, mode="hybrid")
        assert keys(hybrid)[0] == "ticket"
        assert hybrid[0].score == pytest.approx(1 / 61 + 1 / 64, rel=1e-6)
        assert [i.score for i in hybrid[1:]] == pytest.approx([1 / 61, 1 / 62])  # cats 1, 2
        assert hybrid[0].value == {"text": "the printer shows ERR-4711 in red", "kind": "ticket"}
        everything = await api.call(store, "search", ("h",), query=query, limit=10, mode="hybrid")
        assert sorted(keys(everything)) == sorted(k for k, _ in PETS_AND_TICKETS)
        page = await api.call(store, "search", ("h",), query=query, limit=2, offset=1,
                              mode="hybrid")
        assert keys(page) == keys(everything)[1:3]
        assert await api.call(store, "search", ("other",), query=query, mode="hybrid") == []


async def test_hybrid_applies_the_filter_before_ranking(store_factory, api):
    async with store_factory(index=hybrid_index()) as store:
        await api.call(store, "batch", [PutOp(("h", "a"), k, v) for k, v in PETS_AND_TICKETS])
        await api.call(store, "put", ("h", "b"), "ticket2", {"text": "ERR-4711 again", "kind": "ticket"})
        query = "cat ERR-4711"
        pets = await api.call(store, "search", ("h",), query=query, mode="hybrid",
                              filter={"kind": "pet"})
        assert sorted(keys(pets)) == ["feline", "kitten", "kitty"]
        assert [i.score for i in pets] == pytest.approx([1 / 61, 1 / 62, 1 / 63])
        tickets = await api.call(store, "search", ("h",), query=query, mode="hybrid",
                                 filter={"kind": {"$eq": "ticket"}}, limit=1)
        assert keys(tickets) in (["ticket"], ["ticket2"])
        in_b = await api.call(store, "search", ("h", "b"), query=query, mode="hybrid")
        assert keys(in_b) == ["ticket2"]
        assert in_b[0].score == pytest.approx(2 / 61)  # first in both rankings
        none = await api.call(store, "search", ("h",), query=query, mode="keyword",
                              filter={"kind": "pet"})
        assert none == []


async def test_keyword_mode_ranks_matching_items_only(store_factory, api):
    async with store_factory(index=hybrid_index()) as store:
        await api.call(store, "batch", [PutOp(("k",), k, v) for k, v in PETS_AND_TICKETS])
        await api.call(store, "put", ("k",), "scanner", {"text": "the scanner reports ERR-4712"})
        await api.call(store, "put", ("k",), "hidden", {"text": "ERR-4711 ERR-4711"}, index=False)
        await api.call(store, "put", ("k",), "titled", {"text": "kitten", "title": "WidgetPro 3000"},
                       index=["title"])
        found = await api.call(store, "search", ("k",), query="ERR-4711", mode="keyword")
        assert keys(found) == ["ticket", "scanner"]  # both codes share "err"; index=False is out
        assert found[0].score > found[1].score > 0
        product = await api.call(store, "search", ("k",), query="widgetpro", mode="keyword")
        assert keys(product) == ["titled"]
        assert await api.call(store, "search", ("k",), query="zebra", mode="keyword") == []
        # Writes keep the keyword index right: overwrite, re-index, delete.
        await api.call(store, "put", ("k",), "ticket", {"text": "fixed now"})
        await api.call(store, "put", ("k",), "hidden", {"text": "ERR-4711 ERR-4711"})
        await api.call(store, "delete", ("k",), "scanner")
        await api.call(store, "put", ("k",), "titled", {"text": "kitten", "title": "WidgetPro"},
                       index=False)
        found = await api.call(store, "search", ("k",), query="ERR-4711", mode="keyword")
        assert keys(found) == ["hidden"]
        assert await api.call(store, "search", ("k",), query="widgetpro", mode="keyword") == []
        assert keys(await api.call(store, "search", ("k",), query="fixed", mode="keyword")) == ["ticket"]


async def test_hybrid_config_is_validated(store_factory, api):
    with pytest.raises(ValueError, match="hybrid="):
        async with store_factory(index={**hybrid_index(), "hybrid": "yes"}):
            pass
    with pytest.raises(ValueError, match="language="):
        async with store_factory(index={**hybrid_index(), "language": 3}):
            pass
