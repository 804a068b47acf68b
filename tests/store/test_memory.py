"""InMemoryStore specifics: exact TTL with an injected clock, threads, vector bookkeeping."""

from __future__ import annotations

import asyncio
import gc
import threading
from datetime import datetime, timedelta, timezone

import pytest

from waypoint.errors import ConfigError
from waypoint.store import InMemoryStore
from waypoint.store.base import PutOp


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def embed(texts: list[str]) -> list[list[float]]:
    return [[float(t.count("a")), float(t.count("b")), 1.0] for t in texts]


def test_ttl_boundaries_with_an_injected_clock():
    clock = Clock()
    store = InMemoryStore(clock=clock)
    store.put(("t",), "k", {"v": 1}, ttl=1)
    clock.advance(59.999)
    assert store.get(("t",), "k", refresh_ttl=False) is not None
    clock.advance(0.001)
    assert store.get(("t",), "k") is None
    assert store.search(("t",)) == [] and store.list_namespaces() == []
    assert store.sweep_ttl() == 1 and store.sweep_ttl() == 0


def test_reads_refresh_from_the_read_time_using_the_items_own_ttl():
    clock = Clock()
    store = InMemoryStore(clock=clock, ttl_config={"default_ttl": 10})
    store.put(("t",), "short", {"v": 1}, ttl=1)
    store.put(("t",), "default", {"v": 2})
    clock.advance(50)
    store.get(("t",), "short")
    clock.advance(50)  # 100 s: short was refreshed at 50 s to expire at 110 s
    assert store.get(("t",), "short", refresh_ttl=False) is not None
    clock.advance(10)
    assert store.get(("t",), "short") is None
    clock.advance(480)  # 590 s: default (10 min) still alive, then gone at 600 s
    assert store.get(("t",), "default", refresh_ttl=False) is not None
    clock.advance(10)
    assert store.get(("t",), "default") is None


def test_search_refreshes_only_the_page_it_returns_and_listing_never_refreshes():
    clock = Clock()
    store = InMemoryStore(clock=clock)
    for key in "abc":
        store.put(("t",), key, {"k": key}, ttl=1)
        clock.advance(1)
    clock.advance(27)  # 30 s after the first put
    assert [i.key for i in store.search(("t",), limit=1)] == ["c"]
    store.list_namespaces()
    clock.advance(35)  # a and b expired at 60/61 s; c refreshed at 30 s lives to 90 s
    assert [i.key for i in store.search(("t",), refresh_ttl=False)] == ["c"]


def test_refresh_does_not_touch_updated_at():
    clock = Clock()
    store = InMemoryStore(clock=clock)
    store.put(("t",), "k", {"v": 1}, ttl=1)
    before = store.get(("t",), "k").updated_at
    clock.advance(30)
    assert store.get(("t",), "k").updated_at == before


def test_vectors_are_released_on_delete_overwrite_and_sweep():
    clock = Clock()
    store = InMemoryStore(index={"dims": 3, "embed": embed, "fields": ["t[*]"]}, clock=clock)
    store.put(("v",), "1", {"t": ["a", "b", "ab"]})
    store.put(("v",), "2", {"t": ["a"]}, ttl=1)
    assert len(store._vectors) == 4
    store.put(("v",), "1", {"t": ["b"]})
    assert len(store._vectors) == 2
    store.put(("v",), "1", {"t": ["b"]}, index=False)
    assert len(store._vectors) == 1
    clock.advance(61)
    assert store.sweep_ttl() == 1 and len(store._vectors) == 0
    store.put(("v",), "3", {"t": ["aa"]})
    hits = store.search(("v",), query="a")
    assert [(h.key, h.score is None) for h in hits] == [("3", False), ("1", True)]


def test_concurrent_writers_and_readers():
    store = InMemoryStore(index={"dims": 3, "embed": embed, "fields": ["t"]})
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(100):
                store.put(("w", str(n)), str(i), {"t": "a" * (i % 5), "i": i})
                if i % 10 == 0:
                    store.search(("w",), query="a", filter={"i": {"$gte": 0}}, limit=5)
                    store.list_namespaces(prefix=("w",))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.search(("w",), limit=10_000)) == 800
    assert len(store._vectors) == 800 - 8 * 20  # "" texts (i % 5 == 0) are not embedded
    assert len(store.list_namespaces()) == 8


async def test_async_face_awaits_an_async_embedder_on_the_running_loop():
    seen = []

    async def aembed(texts: list[str]) -> list[list[float]]:
        seen.append(asyncio.get_running_loop())
        return embed(texts)

    store = InMemoryStore(index={"dims": 3, "embed": aembed})
    await store.aput(("a",), "k", {"t": "ab"})
    assert (await store.asearch(("a",), query="ab"))[0].key == "k"
    assert seen == [asyncio.get_running_loop()] * 2
    store.put(("a",), "j", {"t": "b"})  # sync face on the loop thread still works
    assert len(seen) == 3 and seen[-1] is not asyncio.get_running_loop()


def test_sweeper_lifecycle_and_garbage_collection():
    store = InMemoryStore(ttl_config={"sweep_interval_minutes": 0.001})
    assert store.stop_ttl_sweeper() is True
    future = store.start_ttl_sweeper()
    assert store.start_ttl_sweeper() is future
    assert store.stop_ttl_sweeper(timeout=2) is True and future.done()
    future = store.start_ttl_sweeper()
    del store
    gc.collect()
    future.result(timeout=2)  # the thread ends once its store is gone


def test_attributes_and_config_errors():
    store = InMemoryStore(index={"dims": 3, "embed": embed}, ttl_config={"default_ttl": 2})
    assert store.index_config["fields"] == ["$"] and store.index_config["dims"] == 3
    assert store.embeddings.embed_documents(["a"]) == [[1.0, 0.0, 1.0]]
    assert store.ttl_config == {"default_ttl": 2, "refresh_on_read": True}
    assert store.supports_ttl is True
    assert InMemoryStore().index_config is None
    with pytest.raises(ConfigError):
        InMemoryStore(index={"dims": 3})  # type: ignore[typeddict-item]
    with pytest.raises(ConfigError):
        InMemoryStore(ttl_config={"default_ttl": -1})


def test_direct_batch_ops_keep_langgraph_defaults():
    store = InMemoryStore(ttl_config={"default_ttl": 1})
    store.batch([PutOp(("d",), "k", {"v": 1})])  # a raw PutOp's ttl=None means no expiry
    clock_free = store.search(("d",))
    assert [i.key for i in clock_free] == ["k"]
    assert store._data[("d",)]["k"].expires_at is None


def test_vectors_enter_the_matrix_at_the_next_search():
    store = InMemoryStore(index={"dims": 3, "embed": embed, "fields": ["t"]})
    store.batch([PutOp(("p",), str(i), {"t": "a" * i + "b"}) for i in range(100)])
    assert len(store._vectors._pending) == 100  # a put converts nothing
    store.delete(("p",), "0")
    store.put(("p",), "1", {"t": "bbbb"})  # overwritten before any search
    assert len(store._vectors) == 99
    hits = store.search(("p",), query="b", limit=2)
    assert store._vectors._pending == {}
    assert [h.key for h in hits] == ["1", "2"]
    assert hits[0].score == pytest.approx(5 / (17 ** 0.5) / (2 ** 0.5), abs=1e-6)
    store.delete(("p",), "1")  # a stored row is zeroed and reused
    store.put(("p",), "new", {"t": "b"})
    assert [h.key for h in store.search(("p",), query="b", limit=1)] == ["new"]


@pytest.mark.parametrize("bad", [
    [[1.0, None, 2.0]], [["x", 1.0, 2.0]], [[1.0, 2.0]], [[1.0, 2.0, 3.0, 4.0]], None,
])
def test_bad_embedder_output_fails_the_put_and_leaves_the_store_usable(bad):
    store = InMemoryStore(index={"dims": 3, "embed": lambda texts: bad, "fields": ["t"]})
    with pytest.raises(ValueError):  # ConfigError, or float()'s own ValueError for "x"
        store.put(("p",), "k", {"t": "a"})
    assert store.get(("p",), "k") is None and len(store._vectors) == 0
    store.put(("p",), "k", {"t": "a"}, index=False)
    assert [h.key for h in store.search(("p",))] == ["k"]


def test_numeric_but_unusual_embedder_output_is_converted():
    import numpy as np

    for out in (np.array([[1, 2, 2]]), [[1, 2, 2]], [np.array([1.0, 2.0, 2.0])], [["1", "2", "2"]]):
        store = InMemoryStore(index={"dims": 3, "embed": lambda texts, o=out: o, "fields": ["t"]})
        store.put(("p",), "k", {"t": "a"})
        store._index.embedder.embed_query = lambda text: [1.0, 2.0, 2.0]
        [hit] = store.search(("p",), query="x")
        assert hit.score == pytest.approx(1.0, abs=1e-6)


def test_keyword_index_follows_writes_and_sweeps():
    clock = Clock()
    store = InMemoryStore(index={"dims": 3, "embed": embed, "fields": ["t"], "hybrid": True},
                          clock=clock)
    store.put(("k",), "1", {"t": "alpha beta"})
    store.put(("k",), "2", {"t": "beta gamma"}, ttl=1)
    store.put(("k",), "3", {"t": "beta"}, index=False)
    assert len(store._keywords) == 2
    assert [h.key for h in store.search(("k",), query="beta", mode="keyword")] == ["1", "2"] or \
        [h.key for h in store.search(("k",), query="beta", mode="keyword")] == ["2", "1"]
    clock.advance(61)  # expired: invisible at once, removed from the index by the sweep
    assert [h.key for h in store.search(("k",), query="gamma", mode="keyword")] == []
    assert store.sweep_ttl() == 1 and len(store._keywords) == 1
    store.put(("k",), "1", {"t": "delta"})
    assert store.search(("k",), query="alpha", mode="keyword") == []
    assert [h.key for h in store.search(("k",), query="delta", mode="hybrid")] == ["1"]
    store.delete(("k",), "1")
    assert len(store._keywords) == 0
    assert store.search(("k",), query="delta", mode="hybrid") == []


def test_get_without_ttl_reads_no_clock():
    calls = []

    def clock() -> datetime:
        calls.append(1)
        return datetime(2025, 1, 1, tzinfo=timezone.utc)

    store = InMemoryStore(clock=clock)
    store.put(("g",), "k", {"v": [1]})
    calls.clear()
    item = store.get(("g",), "k")
    assert item.value == {"v": [1]} and calls == []
    item.value["v"].append(2)  # a copy: the stored value is untouched
    assert store.get(("g",), "k").value == {"v": [1]}


def test_put_copies_any_mapping_deeply_whatever_its_keys():
    from types import MappingProxyType

    from waypoint.errors import SerializationError

    nested = {"list": [1, {"a": 2}], "été": "ça", "n": 1.5}
    store = InMemoryStore()
    store.put(("c",), "proxy", MappingProxyType(nested))
    store.put(("c",), "dict", nested)
    nested["list"][1]["a"] = 99  # the caller's later changes never reach the store
    for key in ("proxy", "dict"):
        assert store.get(("c",), key).value == {"list": [1, {"a": 2}], "été": "ça", "n": 1.5}
    with pytest.raises(SerializationError, match="'bad'"):
        store.put(("c",), "bad", {"k": "\ud800"})
