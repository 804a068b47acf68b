"""Stream modes, get_config/get_store/get_stream_writer inside nodes, sync and async."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

from waypoint.checkpoint.memory import InMemorySaver
from waypoint.config import get_config, get_store, get_stream_writer
from waypoint.graph import START, StateGraph


class S(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


def two_steps() -> Any:
    builder = StateGraph(S)
    builder.add_node("a", lambda s: {"n": s["n"] + 1, "log": ["a"]})
    builder.add_node("b", lambda s: {"log": ["b"]})
    builder.add_edge(START, "a").add_edge("a", "b")
    return builder


def test_values_and_updates_modes() -> None:
    graph = two_steps().compile()
    assert list(graph.stream({"n": 0}, stream_mode="values")) == [
        {"n": 0, "log": []},
        {"n": 1, "log": ["a"]},
        {"n": 1, "log": ["a", "b"]},
    ]
    assert list(graph.stream({"n": 0})) == list(graph.stream({"n": 0}, stream_mode="updates")) == [
        {"a": {"n": 1, "log": ["a"]}},
        {"b": {"log": ["b"]}},
    ]


def test_multiple_modes_yield_tuples() -> None:
    graph = two_steps().compile()
    chunks = list(graph.stream({"n": 0}, stream_mode=["updates", "values"]))
    assert chunks[0] == ("values", {"n": 0, "log": []})
    assert ("updates", {"a": {"n": 1, "log": ["a"]}}) in chunks
    assert chunks[-1] == ("values", {"n": 1, "log": ["a", "b"]})


def test_debug_mode_events() -> None:
    graph = two_steps().compile(checkpointer=InMemorySaver())
    events = list(graph.stream({"n": 0}, {"configurable": {"thread_id": "d"}}, stream_mode="debug"))
    kinds = [(e["type"], e["step"]) for e in events]
    assert ("task", 1) in kinds and ("task_result", 1) in kinds and ("checkpoint", 2) in kinds
    task = next(e for e in events if e["type"] == "task" and e["payload"]["name"] == "a")
    assert task["payload"]["input"] == {"n": 0, "log": []}
    assert task["payload"]["triggers"] == ("branch:to:a",)
    last = events[-1]
    assert last["type"] == "checkpoint" and last["payload"]["next"] == []
    assert last["payload"]["metadata"]["source"] == "loop"


def test_custom_mode_via_get_stream_writer_and_writer_kwarg() -> None:
    def a(s: S) -> dict:
        get_stream_writer()({"progress": 1})
        return {}

    def b(s: S, *, writer: Any) -> dict:
        writer("from-b")
        return {}

    builder = StateGraph(S).add_node(a).add_node(b).add_edge(START, "a").add_edge("a", "b")
    graph = builder.compile()
    assert list(graph.stream({"n": 0}, stream_mode="custom")) == [{"progress": 1}, "from-b"]
    # no-op when nobody streams custom
    assert graph.invoke({"n": 0}) == {"n": 0, "log": []}


def test_get_config_inside_nodes() -> None:
    seen: dict[str, Any] = {}

    def a(s: S) -> dict:
        cfg = get_config()
        seen["thread"] = cfg["configurable"]["thread_id"]
        seen["node"] = cfg["metadata"]["langgraph_node"]
        return {}

    def b(s: S, config: dict) -> dict:
        seen["user"] = config["configurable"]["user"]
        return {}

    builder = StateGraph(S).add_node(a).add_node(b).add_edge(START, "a").add_edge("a", "b")
    builder.compile(checkpointer=InMemorySaver()).invoke(
        {"n": 0}, {"configurable": {"thread_id": "t9", "user": "ann"}}
    )
    assert seen == {"thread": "t9", "node": "a", "user": "ann"}
    with pytest.raises(RuntimeError):
        get_config()


class DuckStore:
    """Anything with the BaseStore surface a node uses."""

    def __init__(self) -> None:
        self.data: dict[tuple, Any] = {}

    def put(self, namespace: tuple, key: str, value: Any) -> None:
        self.data[(namespace, key)] = value

    def get(self, namespace: tuple, key: str) -> Any:
        return self.data.get((namespace, key))


def test_store_kwarg_and_get_store() -> None:
    store = DuckStore()

    def remember(s: S, *, store: Any) -> dict:
        store.put(("mem",), "n", s["n"])
        return {}

    def recall(s: S) -> dict:
        return {"n": get_store().get(("mem",), "n") + 1}

    builder = StateGraph(S).add_node(remember).add_node(recall)
    builder.add_edge(START, "remember").add_edge("remember", "recall")
    assert builder.compile(store=store).invoke({"n": 4}) == {"n": 5, "log": []}
    lonely = StateGraph(S).add_node(recall).add_edge(START, "recall").compile()
    with pytest.raises(RuntimeError, match="store"):
        lonely.invoke({"n": 4})


def test_tasks_and_checkpoints_modes() -> None:
    graph = two_steps().compile(checkpointer=InMemorySaver())
    chunks = list(graph.stream({"n": 0}, {"configurable": {"thread_id": "c"}}, stream_mode=["tasks", "checkpoints"]))
    tasks = [c for m, c in chunks if m == "tasks"]
    assert [t["name"] for t in tasks] == ["a", "a", "b", "b"]
    assert tasks[1]["result"] == {"n": 1, "log": ["a"]}
    cps = [c for m, c in chunks if m == "checkpoints"]
    assert [c["metadata"]["step"] for c in cps] == [-1, 0, 1, 2]


def test_messages_mode_emits_messages_written_by_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.messages import AIMessage

    from waypoint import _langchain
    from waypoint.graph import MessagesState

    builder = StateGraph(MessagesState)
    builder.add_node("bot", lambda s: {"messages": [AIMessage(content="hi", id="m1")]})
    builder.add_edge(START, "bot")
    chunks = list(builder.compile().stream({"messages": [("user", "yo")]}, stream_mode="messages"))
    assert len(chunks) == 1
    msg, meta = chunks[0]
    assert msg.content == "hi" and meta["langgraph_node"] == "bot"
    # without LangChain: the messages nodes write, as written
    monkeypatch.setattr(_langchain, "_LC", None)
    builder = StateGraph(MessagesState)
    builder.add_node("bot", lambda s: {"messages": [{"role": "assistant", "content": "hi", "id": "m1"}]})
    builder.add_edge(START, "bot")
    chunks = list(builder.compile().stream({"messages": [("user", "yo")]}, stream_mode="messages"))
    assert [(m["content"], meta["langgraph_node"]) for m, meta in chunks] == [("hi", "bot")]


def test_unknown_stream_mode() -> None:
    with pytest.raises(ValueError, match="stream_mode"):
        list(two_steps().compile().stream({"n": 0}, stream_mode="nope"))


async def test_async_streaming_and_async_nodes_run_concurrently() -> None:
    started: list[str] = []
    both = asyncio.Event()

    def make(name: str):
        async def fn(s: S) -> dict:
            started.append(name)
            if len(started) == 2:
                both.set()
            await asyncio.wait_for(both.wait(), 5)
            get_stream_writer()(name)
            return {"log": [name]}

        return fn

    builder = StateGraph(S).add_node("x", make("x")).add_node("y", make("y"))
    builder.add_edge(START, "x").add_edge(START, "y")
    graph = builder.compile()
    chunks = [c async for c in graph.astream({"n": 0}, stream_mode=["custom", "values"])]
    assert sorted(c for m, c in chunks if m == "custom") == ["x", "y"]
    assert chunks[-1] == ("values", {"n": 0, "log": ["x", "y"]})
    assert (await graph.ainvoke({"n": 0}))["log"] == ["x", "y"]


async def test_sync_nodes_in_async_runs_go_to_threads() -> None:
    import threading

    main = threading.get_ident()
    where: list[int] = []

    def node(s: S) -> dict:
        where.append(threading.get_ident())
        get_stream_writer()("sync-custom")
        return {"n": 1}

    builder = StateGraph(S).add_node(node).add_edge(START, "node")
    graph = builder.compile()
    assert await graph.ainvoke({"n": 0}) == {"n": 1, "log": []}
    assert where and where[0] != main
    assert [c async for c in graph.astream({"n": 0}, stream_mode="custom")] == ["sync-custom"]


def test_async_only_node_in_sync_run_fails_clearly() -> None:
    async def node(s: S) -> dict:
        return {}

    graph = StateGraph(S).add_node(node).add_edge(START, "node").compile()
    with pytest.raises(TypeError, match="ainvoke"):
        graph.invoke({"n": 0})


def test_updates_stream_marks_restored_tasks_and_static_interrupts() -> None:
    fail = {"left": 1}

    def ok(s: S) -> dict:
        return {"log": ["ok"]}

    def bad(s: S) -> dict:
        if fail["left"]:
            fail["left"] -= 1
            raise ValueError("x")
        return {"log": ["bad"]}

    builder = StateGraph(S).add_node(ok).add_node(bad).add_edge(START, "ok").add_edge(START, "bad")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "r"}}
    with pytest.raises(ValueError):
        list(graph.stream({"n": 0}, config, stream_mode="updates"))
    assert list(graph.stream(None, config, stream_mode="updates")) == [
        {"ok": {"log": ["ok"]}, "__metadata__": {"cached": True}},
        {"bad": {"log": ["bad"]}},
    ]
    stepper = two_steps().compile(checkpointer=InMemorySaver(), interrupt_after=["a"])
    chunks = list(stepper.stream({"n": 0}, {"configurable": {"thread_id": "i"}}, stream_mode="updates"))
    assert chunks == [{"a": {"n": 1, "log": ["a"]}}, {"__interrupt__": ()}]
