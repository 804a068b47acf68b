"""A batch of puts (one run's steps, written in one transaction) reads only its first parent
back: each later put builds on what the put before it wrote, remembered in the batch. These
tests check, on real SQLite and PostgreSQL databases, that what is remembered is exactly what
reading the stored row would have given, for the channel shapes a graph produces (inline
values, blob-sized values, item logs with appended messages, empty channels, subgraphs)."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest

from tests.backends.postgres_saver import fresh_database
from waypoint.checkpoint._sql import ops, put
from waypoint.checkpoint.base import get_checkpoint_id, get_checkpoint_ns, get_thread_id
from waypoint.checkpoint.postgres import PostgresSaver
from waypoint.checkpoint.sqlite import SqliteSaver
from waypoint.graph import END, START, MessagesState, StateGraph


class Mixed(TypedDict, total=False):
    count: int
    note: str
    big: str
    trail: Annotated[list[str], operator.add]


class Outer(TypedDict, total=False):
    count: int
    trail: Annotated[list[str], operator.add]


@pytest.fixture(params=["sqlite", "postgres"])
def saver(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    if request.param == "sqlite":
        with SqliteSaver.from_conn_string(str(tmp_path / "cp.db")) as s:
            yield s
        return
    with fresh_database() as url, PostgresSaver.from_conn_string(url) as s:
        s.setup()
        yield s


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every parent taken from the batch's memory, after asserting it equals the stored row."""
    seen: list[tuple[str, str, str]] = []
    original = put.put_one

    def checking(d: Any, serde: Any, config: Any, *args: Any, written: Any = None) -> Any:
        key = (get_thread_id(config), get_checkpoint_ns(config), get_checkpoint_id(config))
        if written is not None and key in written:
            stored = yield from put._parent(d, serde, *key)
            assert stored == written[key], (key, stored, written[key])
            seen.append(key)
        return (yield from original(d, serde, config, *args, written=written))

    monkeypatch.setattr(ops, "_put", checking)
    return seen


def _mixed_graph(saver: Any) -> Any:
    def a(s: Mixed) -> dict[str, Any]:
        return {"count": s.get("count", 0) + 1, "note": "short", "trail": ["a"]}

    def b(s: Mixed) -> dict[str, Any]:
        return {"big": "x" * 20_000, "trail": ["b"] * 3}

    def c(s: Mixed) -> dict[str, Any]:
        return {"count": s["count"] + 1}

    builder = StateGraph(Mixed)
    for name, fn in (("a", a), ("b", b), ("c", c)):
        builder.add_node(name, fn)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder.compile(checkpointer=saver)


def test_a_run_of_mixed_channels(saver: Any, checked: list[Any]) -> None:
    app = _mixed_graph(saver)
    config = {"configurable": {"thread_id": "mixed"}}
    for _ in range(3):
        out = app.invoke({"trail": ["in"]}, config)
    assert out["count"] == 6 and out["trail"].count("b") == 9 and len(out["big"]) == 20_000
    assert checked  # the batches did take parents from memory
    state = app.get_state(config)
    assert state.values == out
    assert len(list(app.get_state_history(config))) == 15


def test_a_chat_whose_messages_become_references(saver: Any, checked: list[Any]) -> None:
    def assistant(s: MessagesState) -> dict[str, Any]:
        return {"messages": [{"role": "assistant", "content": f"reply {len(s['messages'])}"}]}

    builder = StateGraph(MessagesState)
    builder.add_node("assistant", assistant)
    builder.add_edge(START, "assistant")
    builder.add_edge("assistant", END)
    app = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "chat"}}
    for turn in range(5):
        out = app.invoke({"messages": [{"role": "user", "content": f"question {turn}"}]}, config)
    assert len(out["messages"]) == 10 and checked
    history = list(app.get_state_history(config))
    assert [len(h.values.get("messages", [])) for h in history][:3] == [10, 9, 8]


def test_a_subgraph_run(saver: Any, checked: list[Any]) -> None:
    def inner_step(s: Outer) -> dict[str, Any]:
        return {"count": s.get("count", 0) + 10, "trail": ["inner"]}

    inner = StateGraph(Outer)
    inner.add_node("step", inner_step)
    inner.add_edge(START, "step")
    inner.add_edge("step", END)

    def first(s: Outer) -> dict[str, Any]:
        return {"count": s.get("count", 0) + 1, "trail": ["first"]}

    builder = StateGraph(Outer)
    builder.add_node("first", first)
    builder.add_node("sub", inner.compile(checkpointer=True))
    builder.add_edge(START, "first")
    builder.add_edge("first", "sub")
    builder.add_edge("sub", END)
    app = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "nested"}}
    out = app.invoke({"count": 0}, config)
    out = app.invoke({"count": out["count"]}, config)
    assert out["trail"].count("inner") >= 2 and checked
    assert app.get_state(config).values == out
