"""Compiled graphs used as nodes: checkpoint namespaces, inspection, streaming, Command.PARENT."""

from __future__ import annotations

import operator
from collections import Counter
from typing import Annotated, Any, TypedDict

import pytest

from waypoint.checkpoint.memory import InMemorySaver
from waypoint.errors import InvalidUpdateError
from waypoint.graph import END, START, StateGraph
from waypoint.types import Command


class S(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


class Child(TypedDict):
    n: int
    note: str


def child_graph(checkpointer: Any = None) -> Any:
    builder = StateGraph(Child)
    builder.add_node("c1", lambda s: {"note": f"c1:{s['n']}"})
    builder.add_node("c2", lambda s: {"n": s["n"] * 10})
    builder.add_edge(START, "c1").add_edge("c1", "c2")
    return builder.compile(checkpointer=checkpointer)


def parent_graph(child: Any, checkpointer: Any = None) -> Any:
    builder = StateGraph(S)
    builder.add_node("p1", lambda s: {"n": s["n"] + 1, "log": ["p1"]})
    builder.add_node("sub", child)
    builder.add_node("p2", lambda s: {"log": [f"p2:{s['n']}"]})
    builder.add_edge(START, "p1").add_edge("p1", "sub").add_edge("sub", "p2")
    return builder.compile(checkpointer=checkpointer)


def test_subgraph_output_flows_into_parent_state() -> None:
    graph = parent_graph(child_graph())
    assert graph.invoke({"n": 1}) == {"n": 20, "log": ["p1", "p2:20"]}


def test_subgraph_checkpoints_under_task_namespace_in_parents_saver() -> None:
    saver = InMemorySaver()
    graph = parent_graph(child_graph(), saver)
    config = {"configurable": {"thread_id": "1"}}
    graph.invoke({"n": 1}, config)
    namespaces = {t.config["configurable"]["checkpoint_ns"] for t in saver.list(None)}
    child_ns = [ns for ns in namespaces if ns]
    assert len(child_ns) == 1 and child_ns[0].startswith("sub:")
    parent_ids = {t.config["configurable"]["checkpoint_id"] for t in saver.list({"configurable": {"thread_id": "1", "checkpoint_ns": ""}})}
    child = list(saver.list({"configurable": {"thread_id": "1", "checkpoint_ns": child_ns[0]}}))
    assert [t.metadata["step"] for t in child] == [2, 1, 0, -1]
    for t in child:
        assert set(t.metadata["parents"]) == {""}
        assert t.metadata["parents"][""] in parent_ids
        assert "langgraph_node" not in t.metadata


def test_get_state_with_subgraphs_shows_child_state() -> None:
    saver = InMemorySaver()
    child = child_graph()
    graph = parent_graph(child, saver).builder.compile(checkpointer=saver)
    builder = StateGraph(Child)
    builder.add_node("c1", lambda s: {"note": "c1"})
    builder.add_node("c2", lambda s: {"n": 5})
    builder.add_edge(START, "c1").add_edge("c1", "c2")
    paused_child = builder.compile(interrupt_before=["c2"])
    graph = parent_graph(paused_child, saver)
    config = {"configurable": {"thread_id": "2"}}
    graph.invoke({"n": 1}, config)
    snap = graph.get_state(config)
    assert snap.next == ("sub",)
    ref = snap.tasks[0].state
    assert ref["configurable"]["checkpoint_ns"].startswith("sub:")
    deep = graph.get_state(config, subgraphs=True)
    child_snap = deep.tasks[0].state
    assert child_snap.values == {"n": 2, "note": "c1"}
    assert child_snap.next == ("c2",)
    assert child_snap.config["configurable"]["checkpoint_ns"] == ref["configurable"]["checkpoint_ns"]
    assert child_snap.metadata["parents"] == {"": snap.config["configurable"]["checkpoint_id"]}
    # the child's namespace can be inspected directly, and resuming continues inside it
    assert graph.get_state(ref).next == ("c2",)
    assert graph.invoke(None, config) == {"n": 5, "log": ["p1", "p2:5"]}


def test_subgraph_streaming_with_namespaces() -> None:
    graph = parent_graph(child_graph(), InMemorySaver())
    config = {"configurable": {"thread_id": "s"}}
    chunks = list(graph.stream({"n": 1}, config, stream_mode="updates", subgraphs=True))
    namespaces = [ns for ns, _ in chunks]
    assert namespaces[0] == ()
    inner = [(ns, c) for ns, c in chunks if ns]
    assert [list(c) for _, c in inner] == [["c1"], ["c2"]]
    assert len(inner[0][0]) == 1 and inner[0][0][0].startswith("sub:")
    assert chunks[-1] == ((), {"p2": {"log": ["p2:20"]}})
    plain = list(graph.stream({"n": 1}, {"configurable": {"thread_id": "s2"}}, stream_mode="updates"))
    assert [list(c) for c in plain] == [["p1"], ["sub"], ["p2"]]


def test_command_parent_from_subgraph() -> None:
    def hop(s: Child) -> Command:
        return Command(graph=Command.PARENT, goto="p2", update={"log": ["from-child"]})

    builder = StateGraph(Child).add_node(hop).add_edge(START, "hop")
    child = builder.compile()
    parent = StateGraph(S)
    parent.add_node("sub", child).add_node("p2", lambda s: {"log": ["p2"]})
    parent.add_edge(START, "sub")
    assert parent.compile().invoke({"n": 0})["log"] == ["from-child", "p2"]
    root = StateGraph(Child).add_node(hop).add_edge(START, "hop").compile()
    with pytest.raises(InvalidUpdateError, match="no parent"):
        root.invoke({"n": 0})


def test_subgraph_invoked_from_inside_a_node_inherits_context() -> None:
    saver = InMemorySaver()
    child = child_graph()
    runs: Counter = Counter()

    def call_child(s: S) -> dict:
        runs["call"] += 1
        out = child.invoke({"n": s["n"]})
        return {"n": out["n"], "log": [out["note"]]}

    builder = StateGraph(S).add_node(call_child).add_edge(START, "call_child").add_edge("call_child", END)
    graph = builder.compile(checkpointer=saver)
    assert graph.invoke({"n": 3}, {"configurable": {"thread_id": "x"}}) == {"n": 30, "log": ["c1:3"]}
    assert any(t.config["configurable"]["checkpoint_ns"].startswith("call_child:") for t in saver.list(None))


async def test_async_subgraph() -> None:
    graph = parent_graph(child_graph(), InMemorySaver())
    config = {"configurable": {"thread_id": "a"}}
    assert await graph.ainvoke({"n": 1}, config) == {"n": 20, "log": ["p1", "p2:20"]}
    chunks = [c async for c in graph.astream({"n": 1}, {"configurable": {"thread_id": "b"}}, subgraphs=True)]
    assert any(ns for ns, _ in chunks)


def test_subgraph_with_checkpointer_false_is_not_persisted() -> None:
    saver = InMemorySaver()
    graph = parent_graph(child_graph(checkpointer=False), saver)
    graph.invoke({"n": 1}, {"configurable": {"thread_id": "f"}})
    assert {t.config["configurable"]["checkpoint_ns"] for t in saver.list(None)} == {""}


def test_subgraph_with_checkpointer_true_keeps_its_own_memory_per_thread() -> None:
    class Memo(TypedDict):
        n: int
        seen: Annotated[list[int], operator.add]

    child = StateGraph(Memo).add_node("remember", lambda s: {"seen": [s["n"]]})
    child = child.add_edge(START, "remember").compile(checkpointer=True)
    parent = StateGraph(Memo).add_node("child", child).add_edge(START, "child")
    saver = InMemorySaver()
    graph = parent.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "memo"}}
    graph.invoke({"n": 1}, config)
    graph.invoke({"n": 2}, config)
    child_ns = {t.config["configurable"]["checkpoint_ns"] for t in saver.list(None)} - {""}
    assert child_ns == {"child"}  # one namespace for the node, not one per call
    latest = saver.get_tuple({"configurable": {"thread_id": "memo", "checkpoint_ns": "child"}})
    # the child state persisted across calls: [1] from the first, then input [1] + 2
    assert latest.checkpoint["channel_values"]["seen"] == [1, 1, 2]
