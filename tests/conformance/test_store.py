"""Store conformance suite: every backend in ``tests/backends/``, through both faces (``api``).

The fake embedders are deterministic bag-of-words models, so similarities are exact.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import re
import time
import zlib
from datetime import timezone
from typing import Any

import pytest

from waypoint.errors import ConfigError, InvalidFilterError, InvalidNamespaceError
from waypoint.store.base import GetOp, ListNamespacesOp, PutOp, SearchOp

DIMS = 64
VOCAB = ["cat", "dog", "fish", "pizza", "pasta", "python", "rust", "music", "guitar", "red"]
"""Known words get their own dimension (so they are orthogonal); others hash into the rest."""


def vector(text: str) -> list[float]:
    v = [0.0] * DIMS
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if word in VOCAB:
            v[VOCAB.index(word)] += 1.0
        else:
            v[len(VOCAB) + zlib.crc32(word.encode()) % (DIMS - len(VOCAB))] += 1.0
    return v


def cosine(a: str, b: str) -> float:
    x, y = vector(a), vector(b)
    dot = sum(p * q for p, q in zip(x, y, strict=True))
    return dot / math.sqrt(sum(p * p for p in x) * sum(q * q for q in y))


class FakeEmbeddings:
    """The embeddings-object shape; records every call as (kind, texts). Its bound methods
    double as the sync and async function shapes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(("documents", list(texts)))
        return [vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls.append(("query", [text]))
        return vector(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        await asyncio.sleep(0)
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


def index_config(kind: str = "function", fields: list[str] | None = None) -> tuple[dict, list]:
    """An index config whose ``embed`` has the given shape, and the list recording its calls."""
    fake = FakeEmbeddings()
    embed = {"function": fake.embed_documents, "async_function": fake.aembed_documents}
    config: dict[str, Any] = {"dims": DIMS, "embed": embed.get(kind, fake)}
    if fields is not None:
        config["fields"] = fields
    return config, fake.calls


def keys(items: list[Any]) -> list[str]:
    return [i.key for i in items]


TICK = 0.01  # seconds between puts whose updated_at order a test relies on
SECOND = 1 / 60  # in minutes, the unit of TTLs


# --- CRUD -------------------------------------------------------------------------------------


async def test_put_get_delete(store_factory, api):
    async with store_factory() as store:
        await api.call(store, "put", ("users", "1"), "prefs", {"theme": "dark"})
        item = await api.call(store, "get", ("users", "1"), "prefs")
        assert (item.namespace, item.key) == (("users", "1"), "prefs")
        assert item.value == {"theme": "dark"}
        assert item.created_at == item.updated_at
        assert item.created_at.utcoffset() == timezone.utc.utcoffset(None)  # aware UTC
        assert await api.call(store, "get", ("users", "2"), "prefs") is None
        assert await api.call(store, "get", ("users",), "prefs") is None
        assert await api.call(store, "get", ("users", "1"), "other") is None
        await api.call(store, "delete", ("users", "1"), "prefs")
        assert await api.call(store, "get", ("users", "1"), "prefs") is None
        assert await api.call(store, "search", ("users",)) == []
        await api.call(store, "delete", ("users", "1"), "never-existed")


async def test_item_dict_and_search_item(store_factory, api):
    async with store_factory() as store:
        await api.call(store, "put", ("a", "b"), "k", {"x": 1})
        item = await api.call(store, "get", ("a", "b"), "k")
        assert item.dict() == {"namespace": ["a", "b"], "key": "k", "value": {"x": 1},
                               "created_at": item.created_at.isoformat(),
                               "updated_at": item.updated_at.isoformat()}
        [found] = await api.call(store, "search", ("a",))
        assert found.dict() == {**item.dict(), "score": None}


async def test_update_keeps_created_at_and_bumps_updated_at(store_factory, api):
    async with store_factory() as store:
        await api.call(store, "put", ("n",), "k", {"v": 1})
        first = await api.call(store, "get", ("n",), "k")
        await asyncio.sleep(TICK)
        await api.call(store, "put", ("n",), "k", {"w": 2})
        second = await api.call(store, "get", ("n",), "k")
        assert second.value == {"w": 2}
        assert second.created_at == first.created_at
        assert second.updated_at > first.updated_at


async def test_values_round_trip_and_are_not_aliased(store_factory, api):
    value = {"s": "héllo ✓", "i": 42, "f": 1.5, "b": True, "n": None,
             "l": [1, "two", {"three": 3}], "d": {"e": {"f": []}}}
    async with store_factory() as store:
        await api.call(store, "put", ("v",), "k", value)
        value["l"].append("mutated after put")
        item = await api.call(store, "get", ("v",), "k")
        assert item.value["l"] == [1, "two", {"three": 3}]
        item.value["d"]["e"]["f"].append("mutated after get")
        again = (await api.call(store, "get", ("v",), "k")).value
        assert again == {**value, "l": [1, "two", {"three": 3}]}


# --- validation -------------------------------------------------------------------------------

BAD_NAMESPACES = [((), "at least one label"), (("",), "non-empty"), (("a", ""), "non-empty"),
                  (("a.b",), "'.'"), (("waypoint", "x"), "reserved"), (("a", 1), "must be a str"),
                  ("users", "tuple"), (["users"], "tuple")]


async def test_invalid_namespaces_are_rejected(store_factory, api):
    async with store_factory() as store:
        for namespace, rule in BAD_NAMESPACES:
            with pytest.raises(InvalidNamespaceError) as info:
                await api.call(store, "put", namespace, "k", {"v": 1})
            message = str(info.value)
            assert repr(namespace) in message and rule in message, message
        with pytest.raises(InvalidNamespaceError):
            await api.call(store, "get", ("a.b",), "k")
        with pytest.raises(InvalidNamespaceError):
            await api.call(store, "search", ("a.b",))
        with pytest.raises(InvalidNamespaceError):
            await api.call(store, "delete", ("waypoint",), "k")
        # Reading the reserved root is harmless; labels named "waypoint" elsewhere are fine.
        assert await api.call(store, "get", ("waypoint", "x"), "k") is None
        await api.call(store, "put", ("a", "waypoint"), "k", {"v": 1})
        assert await api.call(store, "list_namespaces") == [("a", "waypoint")]


async def test_invalid_keys_and_values_are_rejected(store_factory, api):
    async with store_factory() as store:
        for key in ("", 7, None):
            with pytest.raises(ValueError, match="key"):
                await api.call(store, "put", ("a",), key, {"v": 1})
        with pytest.raises(ValueError, match="dict"):
            await api.call(store, "put", ("a",), "k", ["not", "a", "dict"])
        with pytest.raises(ValueError, match="limit"):
            await api.call(store, "search", ("a",), limit=-1)
        with pytest.raises(ValueError, match="ttl"):
            await api.call(store, "put", ("a",), "k", {"v": 1}, ttl=-5)
        assert await api.call(store, "list_namespaces") == []


async def test_batch_is_validated_before_anything_applies(store_factory, api):
    async with store_factory() as store:
        ops = [PutOp(("ok",), "k", {"v": 1}), PutOp(("bad.ns",), "k", {"v": 2})]
        with pytest.raises(InvalidNamespaceError):
            await api.call(store, "batch", ops)
        assert await api.call(store, "get", ("ok",), "k") is None


# --- filters ----------------------------------------------------------------------------------

FILTER_ITEMS = {
    "1": {"kind": "a", "n": 1, "score": 4.5, "tags": ["x", "y"], "flag": True, "nil": None,
          "meta": {"lang": "en", "level": 2}},
    "2": {"kind": "b", "n": 2, "score": 3.0, "tags": ["x"], "flag": False,
          "meta": {"lang": "fr", "level": 5}},
    "3": {"kind": "a", "n": "3", "meta": {"lang": "en"}},
    "4": {"kind": "c", "n": 10, "score": 5, "flag": 1},
    "5": {"other": "x"},
}

FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"kind": "a"}, {"1", "3"}), ({"kind": {"$eq": "a"}}, {"1", "3"}),
    ({"kind": {"$ne": "a"}}, {"2", "4"}),
    ({"n": {"$gt": 1}}, {"2", "4"}),  # "3" is a str, "5" lacks n: no match, no crash
    ({"n": {"$gte": 2}}, {"2", "4"}), ({"n": {"$lt": 2}}, {"1"}), ({"n": {"$lte": 2}}, {"1", "2"}),
    ({"n": {"$gt": "2"}}, {"3"}),  # strings compare with strings only
    ({"score": {"$gt": 4, "$lte": 5}}, {"1", "4"}), ({"score": 5}, {"4"}), ({"score": 5.0}, {"4"}),
    ({"kind": {"$in": ["b", "c"]}}, {"2", "4"}), ({"kind": {"$nin": ["b", "c"]}}, {"1", "3"}),
    ({"n": {"$in": [1, "3"]}}, {"1", "3"}),
    ({"meta.lang": "en"}, {"1", "3"}), ({"meta.level": {"$gte": 2}}, {"1", "2"}),
    ({"meta.lang": {"$gt": "e"}}, {"1", "2", "3"}),
    ({"meta": {"lang": "en", "level": 2}}, {"1"}),  # whole-object equality
    ({"tags": ["x"]}, {"2"}),  # whole-list equality
    ({"tags": "x"}, set()),  # no "array contains"
    ({"flag": True}, {"1"}), ({"flag": 1}, {"4"}),  # True is not 1
    ({"nil": None}, {"1"}), ({"nil": {"$ne": 1}}, {"1"}),
    ({"missing": {"$ne": 1}}, set()),  # a missing key never matches
    ({"missing": {"$nin": [1]}}, set()), ({"missing": {"$gt": 0}}, set()),
    ({"kind.sub": "a"}, set()),  # path through a non-object
    ({"kind": "a", "n": {"$lt": 5}}, {"1"}), ({}, {"1", "2", "3", "4", "5"}),
]


async def test_filters(store_factory, api):
    async with store_factory() as store:
        ops = [PutOp(("f",), k, v) for k, v in FILTER_ITEMS.items()]
        await api.call(store, "batch", ops)
        for flt, expected in FILTER_CASES:
            found = await api.call(store, "search", ("f",), filter=flt, limit=100)
            assert set(keys(found)) == expected, flt


BAD_FILTERS = [{"n": {"$foo": 1}}, {"": 1}, {"a..b": 1}, {".a": 1}, {"$or": [{"n": 1}]},
               {"n": {"$in": 1}}, {"n": {"$gt": [1]}}, {"n": {"$gt": 1, "x": 2}}, "no dict"]


async def test_invalid_filters_raise(store_factory, api):
    async with store_factory() as store:
        for flt in BAD_FILTERS:
            with pytest.raises(InvalidFilterError):
                await api.call(store, "search", ("f",), filter=flt)


# --- ordering, prefixes, pagination -------------------------------------------------------------


async def test_search_prefix_order_and_pagination(store_factory, api):
    async with store_factory() as store:
        for i, ns in enumerate([("a",), ("a", "x"), ("ab",), ("a", "y", "z"), ("b",)]):
            await api.call(store, "put", ns, f"k{i}", {"i": i})
            await asyncio.sleep(TICK)
        assert keys(await api.call(store, "search", ("a",))) == ["k3", "k1", "k0"]
        assert keys(await api.call(store, "search", ("a", "y"))) == ["k3"]
        assert keys(await api.call(store, "search", ())) == ["k4", "k3", "k2", "k1", "k0"]
        page = await api.call(store, "search", (), limit=2, offset=1)
        assert keys(page) == ["k3", "k2"]
        assert await api.call(store, "search", (), offset=10) == []
        assert await api.call(store, "search", (), limit=0) == []
        await api.call(store, "put", ("a",), "k0", {"i": 0, "touched": True})
        assert keys(await api.call(store, "search", ("a",))) == ["k0", "k3", "k1"]
        # A query on a store without an index is ignored: same order, no scores (as LangGraph).
        found = await api.call(store, "search", ("a",), query="k1")
        assert keys(found) == ["k0", "k3", "k1"] and {i.score for i in found} == {None}


async def test_batch_shares_one_timestamp_ties_by_namespace_then_key(store_factory, api):
    async with store_factory() as store:
        ops = [PutOp(("t", "b"), "1", {}), PutOp(("t", "a"), "2", {}), PutOp(("t", "a"), "1", {})]
        await api.call(store, "batch", ops)
        found = await api.call(store, "search", ("t",))
        assert [(i.namespace[-1], i.key) for i in found] == [("a", "1"), ("a", "2"), ("b", "1")]
        assert len({i.updated_at for i in found}) == 1


async def test_batch_mixed_ops_apply_in_order(store_factory, api):
    async with store_factory() as store:
        ops = [PutOp(("b",), "1", {"v": 1}), GetOp(("b",), "1"), PutOp(("b",), "2", {"v": 2}),
               SearchOp(("b",)), ListNamespacesOp(), PutOp(("b",), "1", None), GetOp(("b",), "1"),
               SearchOp(("b",), filter={"v": 2})]
        r = await api.call(store, "batch", ops)
        assert len(r) == 8 and r[0] is None and r[2] is None and r[5] is None and r[6] is None
        assert r[1].value == {"v": 1} and keys(r[3]) == ["1", "2"] and keys(r[7]) == ["2"]
        assert r[4] == [("b",)]


# --- list_namespaces ------------------------------------------------------------------------------

NAMESPACES = [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f"),
              ("a", "c", "f"), ("b", "x"), ("a-",), ("a",)]


async def test_list_namespaces(store_factory, api):
    async with store_factory() as store:
        await api.call(store, "batch", [PutOp(ns, "k", {"v": 1}) for ns in NAMESPACES])

        async def ls(**kwargs: Any) -> list[tuple[str, ...]]:
            return await api.call(store, "list_namespaces", **kwargs)

        assert await ls() == sorted(NAMESPACES)
        assert (await ls())[:2] == [("a",), ("a", "b", "c")]  # tuple order: shorter first
        assert await ls(prefix=("a", "b")) == sorted(NAMESPACES)[1:5]
        assert await ls(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
        assert await ls(suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
        assert await ls(suffix=("d", "*")) == [("a", "b", "d", "e"), ("a", "b", "d", "i")]
        assert await ls(prefix=("a", "b"), suffix=("f",)) == [("a", "b", "f")]
        assert await ls(max_depth=2) == [("a",), ("a", "b"), ("a", "c"), ("a-",), ("b", "x")]
        three = [("a",), ("a", "b", "c"), ("a", "b", "d"), ("a", "b", "f"), ("a", "c", "f")]
        assert await ls(prefix=("a",), max_depth=3) == three
        assert await ls(limit=2, offset=1) == [("a", "b", "c"), ("a", "b", "d", "e")]
        assert await ls(prefix=("*",)) == sorted(NAMESPACES)
        assert await ls(prefix=("zzz",)) == []
        assert await ls(suffix=("a", "b", "c", "d", "e")) == []
        await api.call(store, "delete", ("b", "x"), "k")
        assert ("b", "x") not in await ls()
        with pytest.raises(InvalidNamespaceError):
            await ls(prefix=("a.b",))


# --- semantic search ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["function", "async_function", "object"])
async def test_semantic_search_ranks_by_cosine(store_factory, api, kind):
    config, _ = index_config(kind, fields=["text"])
    async with store_factory(index=config) as store:
        for key, value in [
            ("cats", {"text": "cat cat dog"}),
            ("dogs", {"text": "dog"}),
            ("food", {"text": "pizza pasta"}),
            ("untexted", {"other": "cat"}),
        ]:
            await api.call(store, "put", ("docs",), key, value)
            await asyncio.sleep(TICK)
        found = await api.call(store, "search", ("docs",), query="cat dog")
        assert keys(found) == ["cats", "dogs", "food", "untexted"]
        assert found[0].score == pytest.approx(cosine("cat cat dog", "cat dog"), abs=1e-5)
        assert found[1].score == pytest.approx(cosine("dog", "cat dog"), abs=1e-5)
        assert found[2].score == pytest.approx(0.0, abs=1e-6)
        assert found[3].score is None
        top = await api.call(store, "search", ("docs",), query="pizza", limit=1)
        assert keys(top) == ["food"]
        assert top[0].score == pytest.approx(cosine("pizza pasta", "pizza"), abs=1e-5)
        # Without a query: recency order, no scores.
        plain = await api.call(store, "search", ("docs",))
        assert keys(plain) == ["untexted", "food", "dogs", "cats"]
        assert all(i.score is None for i in plain)


async def test_filter_applies_before_ranking(store_factory, api):
    config, _ = index_config(fields=["text"])
    async with store_factory(index=config) as store:
        ops = [PutOp(("d",), f"cat{i}", {"text": "cat", "kind": "a"}) for i in range(20)]
        ops.append(PutOp(("d",), "pizza", {"text": "pizza", "kind": "b"}))
        await api.call(store, "batch", ops)
        found = await api.call(store, "search", ("d",), query="cat", limit=1,
                                filter={"kind": "b"})
        assert keys(found) == ["pizza"]
        found = await api.call(store, "search", ("d",), query="cat", limit=5,
                                filter={"kind": "a"})
        assert len(found) == 5 and all(i.key.startswith("cat") for i in found)
        assert all(i.score == pytest.approx(1.0, abs=1e-5) for i in found)
        page = await api.call(store, "search", ("d",), query="pizza", limit=2, offset=1)
        assert len(page) == 2 and "pizza" not in keys(page)


async def test_field_paths(store_factory, api):
    config, _ = index_config(fields=["tags[*]"])
    async with store_factory(index=config) as store:
        await api.call(store, "put", ("p",), "multi", {"tags": ["cat", "pizza"]})
        await api.call(store, "put", ("p",), "single", {"tags": ["cat dog"]})
        items = {"items": [{"name": "rust"}, {"name": "dog"}]}
        await api.call(store, "put", ("p",), "first", items, index=["items[0].name"])
        items = {"items": [{"name": "rust"}, {"name": "music"}]}
        await api.call(store, "put", ("p",), "last", items, index=["items[-1].name"])
        await api.call(store, "put", ("p",), "nested", {"a": {"b": "guitar"}}, index=["a.b"])
        await api.call(store, "put", ("p",), "whole", {"x": {"y": "fish"}}, index=["$"])

        async def top(query: str) -> tuple[str, float]:
            [best] = await api.call(store, "search", ("p",), query=query, limit=1)
            return best.key, best.score

        key, score = await top("pizza")  # best of the item's vectors, not their average
        assert key == "multi" and score == pytest.approx(1.0, abs=1e-5)
        assert (await top("cat dog"))[0] == "single"
        assert (await top("rust"))[0] == "first"
        assert (await top("music"))[0] == "last"
        assert (await top("guitar"))[0] == "nested"
        assert (await top("fish"))[0] == "whole"
        found = {i.key: i.score for i in await api.call(store, "search", ("p",), query="dog")}
        assert found["first"] == pytest.approx(0.0, abs=1e-6)  # items[1] was not indexed


async def test_put_index_false_and_override(store_factory, api):
    config, _ = index_config(fields=["text"])
    async with store_factory(index=config) as store:
        await api.call(store, "put", ("d",), "titled", {"text": "pizza", "title": "cat"},
                       index=["title"])
        await api.call(store, "put", ("d",), "skipped", {"text": "cat"}, index=False)
        await api.call(store, "put", ("d",), "plain", {"text": "cat dog"})
        found = await api.call(store, "search", ("d",), query="cat")
        assert keys(found) == ["titled", "plain", "skipped"]
        assert found[0].score == pytest.approx(1.0, abs=1e-5)
        assert found[2].score is None
        # Overwriting re-indexes: old vectors never linger.
        await api.call(store, "put", ("d",), "titled", {"text": "cat", "title": "pizza"})
        await api.call(store, "put", ("d",), "plain", {"text": "cat dog"}, index=False)
        found = await api.call(store, "search", ("d",), query="cat")
        assert keys(found) == ["titled", "plain", "skipped"]
        assert found[0].score == pytest.approx(1.0, abs=1e-5)
        assert found[1].score is None and found[2].score is None


async def test_embedding_happens_once_per_put_and_per_query(store_factory, api):
    config, calls = index_config("object", fields=["text"])
    async with store_factory(index=config) as store:
        await api.call(
            store, "batch", [PutOp(("e",), str(i), {"text": f"cat {i}"}) for i in range(3)]
        )
        assert calls == [("documents", ["cat 0", "cat 1", "cat 2"])]
        calls.clear()
        await api.call(store, "put", ("e",), "skip", {"text": "dog"}, index=False)
        await api.call(store, "put", ("e",), "empty", {"no_text": "dog"})
        await api.call(store, "get", ("e",), "0")
        await api.call(store, "search", ("e",))
        await api.call(store, "search", ("e",), filter={"text": "cat 0"})
        await api.call(store, "list_namespaces")
        assert calls == []
        await api.call(store, "search", ("e",), query="cat", limit=2)
        assert calls == [("query", ["cat"])]
        calls.clear()
        await api.call(store, "batch", [SearchOp(("e",), query="cat"), SearchOp((), query="cat")])
        assert calls == [("query", ["cat"])]


async def test_embedder_with_wrong_dims_is_a_clear_error(store_factory, api):
    config, _ = index_config(fields=["text"])
    config["dims"] = 8
    async with store_factory(index=config) as store:
        with pytest.raises(ConfigError, match="dims=8"):
            await api.call(store, "put", ("d",), "k", {"text": "cat"})
        assert await api.call(store, "get", ("d",), "k") is None


# --- TTL ------------------------------------------------------------------------------------------


async def test_ttl_expired_items_are_invisible_until_swept(store_factory, api):
    config = {"default_ttl": 0.25 * SECOND}
    async with store_factory() as store, store_factory(ttl_config=config) as defaulted:
        await api.call(defaulted, "put", ("t",), "default", {"v": 1})
        await api.call(defaulted, "put", ("t",), "never", {"v": 2}, ttl=None)
        await api.call(store, "put", ("t",), "short", {"v": 1}, ttl=0.25 * SECOND)
        await api.call(store, "put", ("t",), "long", {"v": 2}, ttl=10)
        await api.call(store, "put", ("t",), "forever", {"v": 3})
        await api.call(store, "put", ("gone",), "short", {"v": 4}, ttl=0.25 * SECOND)
        assert (await api.call(store, "get", ("t",), "short")).value == {"v": 1}
        await asyncio.sleep(0.4)
        assert await api.call(store, "get", ("t",), "short") is None
        assert sorted(keys(await api.call(store, "search", ("t",)))) == ["forever", "long"]
        assert await api.call(store, "list_namespaces") == [("t",)]
        # Re-putting an expired key starts a new item.
        await api.call(store, "put", ("gone",), "short", {"v": 5}, ttl=None)
        item = await api.call(store, "get", ("gone",), "short")
        assert item.value == {"v": 5} and item.created_at == item.updated_at
        swept = await api.call(store, "sweep_ttl")
        # MongoDB's own TTL monitor (the store creates a TTL index) may have removed the
        # expired item first; every other backend only deletes when swept.
        assert swept == 1 or (swept == 0 and ".mongodb" in type(store).__module__)
        assert await api.call(store, "sweep_ttl") == 0
        assert keys(await api.call(defaulted, "search", ("t",))) == ["never"]


async def test_ttl_refresh_on_read(store_factory, api):
    ttl = 0.5 * SECOND
    async with store_factory(ttl_config={"default_ttl": ttl}) as refreshing, store_factory(
        ttl_config={"default_ttl": ttl, "refresh_on_read": False}
    ) as plain:
        for store in (refreshing, plain):
            await api.call(store, "batch", [PutOp(("t",), k, {"k": k}, ttl=ttl) for k in "abcd"])
        put_done = time.monotonic()  # every item expires by put_done + 0.5 s unless refreshed
        await asyncio.sleep(0.3)
        await api.call(refreshing, "get", ("t",), "a")  # config default: refresh
        await api.call(refreshing, "get", ("t",), "b", refresh_ttl=False)
        await api.call(refreshing, "search", ("t",), filter={"k": "c"})  # refreshes what it returns
        await api.call(plain, "get", ("t",), "a")  # config says no refresh
        await api.call(plain, "get", ("t",), "b", refresh_ttl=True)
        await api.call(plain, "search", ("t",), filter={"k": "c"}, refresh_ttl=True)
        # just past the puts' expiry, and well before the reads' (which began 0.3 s later); waits
        # from measured times, so a slow machine moves both ends together
        await asyncio.sleep(max(0.0, put_done + 0.6 - time.monotonic()))
        found = await api.call(refreshing, "search", ("t",), refresh_ttl=False)
        assert sorted(keys(found)) == ["a", "c"]
        assert sorted(keys(await api.call(plain, "search", ("t",)))) == ["b", "c"]


async def test_ttl_sweeper_removes_expired_items(store_factory, api):
    async with store_factory(ttl_config={"sweep_interval_minutes": 0.1 * SECOND}) as store:
        await api.call(store, "put", ("t",), "short", {"v": 1}, ttl=0.1 * SECOND)
        await api.call(store, "put", ("t",), "kept", {"v": 2})
        store.start_ttl_sweeper()
        store.start_ttl_sweeper()  # idempotent
        await asyncio.sleep(0.45)
        stopped = store.stop_ttl_sweeper(timeout=2)
        if inspect.isawaitable(stopped):
            stopped = await stopped
        assert stopped is True and await api.call(store, "sweep_ttl") == 0  # already swept
        assert keys(await api.call(store, "search", ("t",))) == ["kept"]

