"""Node caching (``CachePolicy`` + ``compile(cache=...)``), side by side with LangGraph 1.2."""

from __future__ import annotations

import asyncio
import operator
from collections import Counter
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import pytest

import langgraph.cache.memory as lg_cache_memory
import langgraph.checkpoint.memory as lg_memory
import langgraph.graph as lg_graph
import langgraph.types as lg_types

import waypoint.cache._ttl as ttl_clock
import waypoint.cache.memory as wp_cache_memory
import waypoint.checkpoint.memory as wp_memory
import waypoint.graph as wp_graph
import waypoint.types as wp_types
from waypoint.cache.base import BaseCache
from waypoint.cache.sqlite import SqliteCache
from waypoint.errors import ConfigError, InvalidGraphError

WP = SimpleNamespace(graph=wp_graph, types=wp_types, cache=wp_cache_memory, memory=wp_memory)
LG = SimpleNamespace(graph=lg_graph, types=lg_types, cache=lg_cache_memory, memory=lg_memory)


class S(TypedDict):
    x: int
    tag: str
    out: Annotated[list, operator.add]


def cfg(tid: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": tid}}


def build(lib: Any, calls: Counter, *, cache: Any = None, policy: Any = None, checkpointer: bool = True) -> Any:
    def double(s: S) -> dict:
        calls["double"] += 1
        return {"out": [s["x"] * 2]}

    def plain(s: S) -> dict:
        calls["plain"] += 1
        return {"out": ["plain"]}

    b = lib.graph.StateGraph(S)
    b.add_node("double", double, cache_policy=policy or lib.types.CachePolicy())
    b.add_node("plain", plain)
    b.add_edge(lib.graph.START, "double").add_edge("double", "plain")
    return b.compile(
        cache=cache if cache is not None else lib.cache.InMemoryCache(),
        checkpointer=lib.memory.InMemorySaver() if checkpointer else None,
    )


def _updates(chunks: list[Any]) -> list[Any]:
    return [c for m, c in chunks if m == "updates"]


@pytest.mark.parametrize("lib", [WP, LG], ids=["waypoint", "langgraph"])
def test_same_input_reuses_cached_writes_as_langgraph(lib: Any) -> None:
    calls: Counter = Counter()
    graph = build(lib, calls)
    modes = ["updates", "tasks"]
    first = list(graph.stream({"x": 1, "tag": "a", "out": []}, cfg("1"), stream_mode=modes))
    second = list(graph.stream({"x": 1, "tag": "a", "out": []}, cfg("2"), stream_mode=modes))
    assert calls == {"double": 1, "plain": 2}
    assert _updates(first) == [{"double": {"out": [2]}}, {"plain": {"out": ["plain"]}}]
    assert _updates(second) == [
        {"double": {"out": [2]}, "__metadata__": {"cached": True}},
        {"plain": {"out": ["plain"]}},
    ]
    # a cached task has a start event but no result event in the tasks stream
    results = [c["name"] for m, c in second if m == "tasks" and "result" in c]
    assert results == ["plain"]
    assert graph.get_state(cfg("2")).values["out"] == [2, "plain"]
    # another input misses
    graph.invoke({"x": 5, "tag": "a", "out": []}, cfg("3"))
    assert calls["double"] == 2


def test_outputs_match_langgraph_over_several_runs() -> None:
    def run(lib: Any) -> tuple[list[Any], Counter]:
        calls: Counter = Counter()
        graph = build(lib, calls)
        out = []
        for i, x in enumerate([1, 2, 1, 2, 3, 1]):
            out.append(list(graph.stream({"x": x, "tag": "t", "out": []}, cfg(str(i)))))
        return out, calls

    assert run(WP) == run(LG)


def test_key_func_and_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(ttl_clock, "now", lambda: clock[0])
    calls: Counter = Counter()
    policy = wp_types.CachePolicy(key_func=lambda s: str(s["x"]), ttl=60)
    graph = build(WP, calls, policy=policy, checkpointer=False)
    graph.invoke({"x": 1, "tag": "a", "out": []})
    graph.invoke({"x": 1, "tag": "other tag, same key", "out": []})
    assert calls["double"] == 1
    clock[0] += 59
    graph.invoke({"x": 1, "tag": "a", "out": []})
    assert calls["double"] == 1
    clock[0] += 1  # 60 s after it was stored: expired
    graph.invoke({"x": 1, "tag": "a", "out": []})
    assert calls["double"] == 2


def test_clear_cache_per_node_and_async() -> None:
    calls: Counter = Counter()
    cache = wp_cache_memory.InMemoryCache()
    graph = build(WP, calls, cache=cache, checkpointer=False)
    graph.invoke({"x": 1, "tag": "a", "out": []})
    graph.clear_cache(["plain"])  # not this node's entries
    graph.invoke({"x": 1, "tag": "a", "out": []})
    assert calls["double"] == 1
    graph.clear_cache(["double"])
    graph.invoke({"x": 1, "tag": "a", "out": []})
    assert calls["double"] == 2
    asyncio.run(graph.aclear_cache())
    out = asyncio.run(graph.ainvoke({"x": 1, "tag": "a", "out": []}))
    assert out["out"] == [2, "plain"] and calls["double"] == 3
    asyncio.run(graph.ainvoke({"x": 1, "tag": "a", "out": []}))
    assert calls["double"] == 3  # the async run stored and found it


def test_clear_cache_without_cache_is_a_named_error() -> None:
    b = wp_graph.StateGraph(S).add_node("n", lambda s: {}).add_edge(wp_graph.START, "n")
    with pytest.raises(ConfigError, match="compile it with cache="):
        b.compile().clear_cache()


def test_errors_and_interrupts_are_not_cached() -> None:
    calls: Counter = Counter()
    fail = {"left": 1}

    def flaky(s: S) -> dict:
        calls["flaky"] += 1
        if fail["left"]:
            fail["left"] -= 1
            raise RuntimeError("boom")
        return {"out": ["ok"]}

    def ask(s: S) -> dict:
        calls["ask"] += 1
        return {"tag": wp_types.interrupt("tag?")}

    policy = wp_types.CachePolicy()
    b = wp_graph.StateGraph(S)
    b.add_node("flaky", flaky, cache_policy=policy).add_node("ask", ask, cache_policy=policy)
    b.add_edge(wp_graph.START, "flaky").add_edge("flaky", "ask")
    graph = b.compile(cache=wp_cache_memory.InMemoryCache(), checkpointer=wp_memory.InMemorySaver())
    with pytest.raises(RuntimeError):
        graph.invoke({"x": 1, "tag": "", "out": []}, cfg("a"))
    graph.invoke({"x": 1, "tag": "", "out": []}, cfg("b"))
    assert calls == {"flaky": 2, "ask": 1}
    graph.invoke({"x": 1, "tag": "", "out": []}, cfg("c"))  # flaky cached, ask interrupts again
    assert calls == {"flaky": 2, "ask": 2}
    out = graph.invoke(wp_types.Command(resume="yes"), cfg("c"))
    assert out["tag"] == "yes" and calls["ask"] == 3


def test_send_tasks_are_cached_by_their_argument() -> None:
    calls: Counter = Counter()

    def work(arg: dict) -> dict:
        calls[arg["x"]] += 1
        return {"out": [arg["x"] * 10]}

    b = wp_graph.StateGraph(S)
    b.add_node("work", work, cache_policy=wp_types.CachePolicy())
    b.add_conditional_edges(wp_graph.START, lambda s: [wp_types.Send("work", {"x": v}) for v in (1, 2, 1)])
    graph = b.compile(cache=wp_cache_memory.InMemoryCache())
    assert sorted(graph.invoke({"x": 0, "tag": "", "out": []})["out"]) == [10, 10, 20]
    assert sorted(graph.invoke({"x": 0, "tag": "", "out": []})["out"]) == [10, 10, 20]
    assert calls == {1: 2, 2: 1}  # the two equal Sends of the first step both missed


def test_sqlite_cache_survives_reopening(tmp_path: Any) -> None:
    path = tmp_path / "cache.db"
    calls: Counter = Counter()
    graph = build(WP, calls, cache=SqliteCache(path=path), checkpointer=False)
    graph.invoke({"x": 7, "tag": "a", "out": []})
    reopened = build(WP, calls, cache=SqliteCache(path=str(path)), checkpointer=False)
    assert reopened.invoke({"x": 7, "tag": "a", "out": []})["out"] == [14, "plain"]
    assert calls["double"] == 1
    reopened.clear_cache()
    reopened.invoke({"x": 7, "tag": "a", "out": []})
    assert calls["double"] == 2


@pytest.mark.parametrize("make", [wp_cache_memory.InMemoryCache, "sqlite"])
def test_cache_backends_contract(make: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cache: BaseCache = SqliteCache(path=tmp_path / "c.db") if make == "sqlite" else make()
    clock = [50.0]
    monkeypatch.setattr(ttl_clock, "now", lambda: clock[0])
    ns1, ns2 = ("a", "b,c"), ("a",)
    cache.set({(ns1, "k"): ([("x", (1, 2))], None), (ns2, "k"): ({"v": 1}, 10)})
    assert cache.get([(ns1, "k"), (ns2, "k"), (("z",), "k")]) == {
        (ns1, "k"): [("x", (1, 2))], (ns2, "k"): {"v": 1}
    }
    clock[0] += 10
    assert cache.get([(ns2, "k")]) == {}
    assert asyncio.run(cache.aget([(ns1, "k")])) == {(ns1, "k"): [("x", (1, 2))]}
    asyncio.run(cache.aset({(ns2, "j"): (3, None)}))
    cache.clear([ns1])
    assert cache.get([(ns1, "k"), (ns2, "j")]) == {(ns2, "j"): 3}
    asyncio.run(cache.aclear())
    assert cache.get([(ns2, "j")]) == {}
    many = [(ns2, str(i)) for i in range(1000)]  # more keys than one statement's parameters
    cache.set({k: (i, None) for i, k in enumerate(many)})
    assert len(cache.get(many)) == 1000


def test_bad_cache_input_is_named() -> None:
    b = wp_graph.StateGraph(S)
    with pytest.raises(InvalidGraphError, match="CachePolicy"):
        b.add_node("n", lambda s: {}, cache_policy={"ttl": 3})
    b.add_node("n", lambda s: {}, cache_policy=wp_types.CachePolicy(key_func=lambda s: 42))
    b.add_edge(wp_graph.START, "n")
    with pytest.raises(InvalidGraphError, match="needs a cache such as"):
        b.compile(cache=object())
    with pytest.raises(ConfigError, match="key_func must return str or bytes"):
        b.compile(cache=wp_cache_memory.InMemoryCache()).invoke({"x": 1, "tag": "", "out": []})
    with pytest.raises(ConfigError, match="ttl"):
        wp_cache_memory.InMemoryCache().set({(("a",), "k"): (1, 0)})
