"""The SQL savers' decoded-page cache: faster rereads, never shared or stale objects."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from waypoint.checkpoint._fresh import PageCache
from waypoint.checkpoint._sql import codec
from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer
from waypoint.checkpoint.sqlite import SqliteSaver
from waypoint.graph import END, START, MessagesState, StateGraph


def _chat(saver: Any, turns: int) -> tuple[Any, dict[str, Any]]:
    def reply(state: MessagesState) -> dict[str, Any]:
        n = len(state["messages"])
        return {"messages": [AIMessage(content=f"reply {n} " + "x" * 200, id=f"a{n}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    app = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "chat"}}
    for turn in range(turns):
        app.invoke({"messages": [HumanMessage(content=f"user {turn} " + "y" * 200, id=f"u{turn}")]}, config)
    return app, config


def test_rereads_hit_the_cache_and_return_fresh_objects(tmp_path: Any) -> None:
    saver = SqliteSaver(tmp_path / "chat.db")
    app, config = _chat(saver, 40)  # 80 messages: one full page of 64 and a tail
    first = app.get_state(config).values["messages"]
    cache = codec._page_cache(saver.serde)
    assert cache is not None and len(cache._entries) == 1
    first[0].content = "mutated"
    first[0].additional_kwargs["x"] = 1
    first.append(HumanMessage(content="extra"))
    second = app.get_state(config).values["messages"]
    assert len(second) == 80 and second[0].content.startswith("user 0")
    assert second[0].additional_kwargs == {}
    third = app.get_state(config).values["messages"]
    assert all(a is not b for a, b in zip(second, third))
    assert all(a.__dict__ is not b.__dict__ for a, b in zip(second, third))
    assert [type(m) for m in third] == [HumanMessage, AIMessage] * 40
    assert third == second
    # the cached rebuild equals a fresh decode, fields set included
    fresh = [saver.serde.loads_typed(saver.serde.dumps_typed(m)) for m in third]
    assert [m.model_fields_set for m in third] == [m.model_fields_set for m in fresh]
    saver.close()


def test_pages_with_values_marshal_cannot_copy_are_not_cached() -> None:
    serde = JsonPlusSerializer()
    cache = PageCache()
    items = [{"at": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)}] + [{"n": i} for i in range(70)]
    type_, data = serde.dumps_typed(items)
    calls = []

    def decode() -> list[Any]:
        calls.append(1)
        return list(serde.loads_typed((type_, data)))

    assert cache.read(type_, data, decode) == items
    assert cache.read(type_, data, decode) == items
    assert len(calls) == 2 and not cache._entries


def test_plain_pages_are_cached_and_copied_deeply() -> None:
    serde = JsonPlusSerializer()
    cache = PageCache()
    items = [{"role": "user", "content": f"m{i}", "tags": ["a", "b"]} for i in range(64)]
    type_, data = serde.dumps_typed(items)
    calls = []

    def decode() -> list[Any]:
        calls.append(1)
        return list(serde.loads_typed((type_, data)))

    one = cache.read(type_, data, decode)
    one[0]["tags"].append("mutated")
    two = cache.read(type_, data, decode)
    assert calls == [1] and two == items and two[0]["tags"] is not one[0]["tags"]


def test_cache_is_bounded_and_drops_least_recently_used() -> None:
    serde = JsonPlusSerializer()
    pages = [serde.dumps_typed([f"page {p} item {i}" * 20 for i in range(64)]) for p in range(6)]
    one = len(pages[0][1])
    cache = PageCache(max_bytes=3 * 2 * one + one)  # room for about three pages (state + key)
    for type_, data in pages:
        cache.read(type_, data, lambda t=type_, d=data: list(serde.loads_typed((t, d))))
    assert 0 < len(cache._entries) <= 3 and cache._size <= cache.max_bytes
    assert (pages[-1][0], pages[-1][1]) in cache._entries
    assert (pages[0][0], pages[0][1]) not in cache._entries


def test_each_serializer_has_its_own_cache() -> None:
    a, b = JsonPlusSerializer(), JsonPlusSerializer()
    assert codec._page_cache(a) is codec._page_cache(a)
    assert codec._page_cache(a) is not codec._page_cache(b)


@pytest.mark.parametrize("size", [10, 5000])
def test_decode_page_row_small_and_large_rows(size: int) -> None:
    serde = JsonPlusSerializer()
    items = ["x" * size, "y"]
    type_, data = serde.dumps_typed(items)
    row = ("p", "t", "", None, "L", None, None, 0, type_, data, None, None)
    assert codec.decode_page_row(row, serde) == items
    assert codec.decode_page_row(row, serde) == items
