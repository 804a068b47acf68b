"""get_state(subgraphs=True) and update_state through nested persistent subgraphs, on every
saver and face, checked against LangGraph (in-memory) as the reference."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest

from tests.hitl._side_by_side import LG, WP, ns_shape, snapshot_shape
from tests.hitl.conftest import LOOP, Face

pytestmark = LOOP


class S(TypedDict):
    value: Annotated[list, operator.add]


def three_levels(lib: Any, checkpointer: Any) -> Any:
    """root -> mid -> inner, where inner asks a question with interrupt()."""
    inner = lib.StateGraph(S).add_node("ask", lambda s: {"value": [lib.interrupt("Q?")]})
    inner = inner.add_edge(lib.START, "ask").compile(checkpointer=checkpointer)
    mid = lib.StateGraph(S).add_node("inner", inner).add_edge(lib.START, "inner")
    mid = mid.compile(checkpointer=checkpointer)
    return lib.StateGraph(S).add_node("mid", mid).add_edge(lib.START, "mid")


async def _nested_state(lib: Any, face: Face, saver: Any, config: dict, cp: Any) -> list:
    graph = three_levels(lib, cp).compile(checkpointer=saver)
    await face.invoke(graph, {"value": []}, config)
    top = await face.get_state(graph, config, subgraphs=True)
    mid = top.tasks[0].state
    inner = mid.tasks[0].state
    # each level's own config addresses it again
    again = await face.get_state(graph, inner.config)
    out = await face.invoke(graph, lib.Command(resume="A"), config)
    return [snapshot_shape(top), snapshot_shape(again), ns_shape(inner.config["configurable"]["checkpoint_ns"]), out]


@pytest.mark.parametrize("cp", [True, None], ids=["persistent", "per-invocation"])
async def test_get_state_shows_every_level_of_nested_subgraphs(
    saver: Any, face: Face, config: dict, cp: Any
) -> None:
    ours = await _nested_state(WP, face, saver, config, cp)
    reference = await _nested_state(LG, Face("sync"), LG.InMemorySaver(), {"configurable": {"thread_id": "n"}}, cp)
    assert ours == reference
    top = ours[0]
    assert top["next"] == ("mid",) and top["interrupts"] == ["Q?"]
    [(name, intr, _, mid)] = top["tasks"]
    assert (name, intr) == ("mid", ["Q?"])
    assert mid["next"] == ("inner",) and mid["ns"] == ("mid",)
    assert [t[0] for t in mid["tasks"]] == ["inner"]
    inner = mid["tasks"][0][3]
    assert inner["next"] == ("ask",) and inner["ns"] == ("mid", "inner")
    assert ours[1]["next"] == ("ask",)
    assert ours[3] == {"value": ["A"]}


async def test_persistent_subgraph_below_a_per_invocation_one_keeps_one_history(
    saver: Any, face: Face, config: dict
) -> None:
    # a checkpointer=True graph's namespace drops the task ids of every level above it too
    async def scenario(lib: Any, face: Face, saver: Any, config: dict) -> list:
        seen: list = []

        def record(s: S) -> dict:
            seen.append(list(s["value"]))
            return {"value": ["i"]}

        inner = lib.StateGraph(S).add_node("record", record).add_edge(lib.START, "record")
        mid = lib.StateGraph(S).add_node("inner", inner.compile(checkpointer=True))
        mid = mid.add_edge(lib.START, "inner").compile()
        graph = lib.StateGraph(S).add_node("mid", mid).add_edge(lib.START, "mid").compile(checkpointer=saver)
        await face.invoke(graph, {"value": []}, config)
        await face.invoke(graph, {"value": []}, config)
        return seen

    ours = await scenario(WP, face, saver, config)
    assert ours == await scenario(LG, Face("sync"), LG.InMemorySaver(), {"configurable": {"thread_id": "m"}})
    assert ours == [[], ["i", "i"]]


class Question(TypedDict):
    question: str
    answer: str


class Topic(TypedDict):
    topic: str
    result: str


def calling_node(lib: Any, *, use_async: bool) -> Any:
    """A parent whose node calls a subgraph with different state keys (LangGraph's pattern)."""
    builder = lib.StateGraph(Question).add_node("ask", lambda s: {"answer": lib.interrupt(s["question"])})
    builder.add_node("shout", lambda s: {"answer": s["answer"].upper()})
    sub = builder.add_edge(lib.START, "ask").add_edge("ask", "shout").compile()

    def call_sub(state: Topic) -> dict:
        return {"result": sub.invoke({"question": f"about {state['topic']}?"})["answer"]}

    async def acall_sub(state: Topic) -> dict:
        return {"result": (await sub.ainvoke({"question": f"about {state['topic']}?"}))["answer"]}

    node = acall_sub if use_async else call_sub
    return lib.StateGraph(Topic).add_node("call_sub", node).add_edge(lib.START, "call_sub")


async def _called_subgraph(lib: Any, face: Face, saver: Any, config: dict, use_async: bool) -> list:
    graph = calling_node(lib, use_async=use_async).compile(checkpointer=saver)
    await face.invoke(graph, {"topic": "cats"}, config)
    paused = await face.get_state(graph, config, subgraphs=True)
    sub_config = paused.tasks[0].state.config
    await face.update_state(graph, sub_config, {"question": "edited?"})
    edited = await face.get_state(graph, config, subgraphs=True)
    out = await face.invoke(graph, lib.Command(resume="yes"), config)
    return [snapshot_shape(paused), snapshot_shape(edited), out]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync-node", "async-node"])
async def test_subgraph_called_inside_a_node_is_inspectable_and_editable(
    saver: Any, face: Face, config: dict, use_async: bool
) -> None:
    if use_async and face.mode == "sync":
        pytest.skip("an async node needs the async API")
    ours = await _called_subgraph(WP, face, saver, config, use_async)
    reference = await _called_subgraph(
        LG, Face(face.mode), LG.InMemorySaver(), {"configurable": {"thread_id": "c"}}, use_async
    )
    assert ours == reference
    paused, edited, out = ours
    [(name, intr, _, sub)] = paused["tasks"]
    assert (name, intr) == ("call_sub", ["about cats?"])
    assert sub["ns"] == ("call_sub",) and sub["next"] == ("ask",)
    assert sub["values"] == {"question": "about cats?"}
    sub = edited["tasks"][0][3]
    assert sub["source"] == "update" and sub["values"] == {"question": "edited?"}
    assert out == {"topic": "cats", "result": "YES"}


@pytest.mark.parametrize("mode", ["node", "called"])
async def test_subgraph_with_checkpointer_false_has_no_state(
    saver: Any, face: Face, config: dict, mode: str
) -> None:
    async def scenario(lib: Any, face: Face, saver: Any, config: dict) -> list:
        inner = lib.StateGraph(S).add_node("ask", lambda s: {"value": [lib.interrupt("Q?")]})
        inner = inner.add_edge(lib.START, "ask").compile(checkpointer=False)

        def call(s: S) -> dict:
            return inner.invoke(s)

        graph = lib.StateGraph(S).add_node("n", inner if mode == "node" else call)
        graph = graph.add_edge(lib.START, "n").compile(checkpointer=saver)
        await face.invoke(graph, {"value": []}, config)
        snap = await face.get_state(graph, config, subgraphs=True)
        return [snapshot_shape(snap), await face.invoke(graph, lib.Command(resume="A"), config)]

    ours = await scenario(WP, face, saver, config)
    assert ours == await scenario(LG, Face("sync"), LG.InMemorySaver(), {"configurable": {"thread_id": "x"}})
    assert ours[0]["tasks"] == [("n", ["Q?"], None, None)]
    assert ours[1] == {"value": ["A"]}
