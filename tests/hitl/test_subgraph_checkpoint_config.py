"""Running a graph from a subgraph checkpoint's config (from get_state(subgraphs=True) or a
subgraph's history), on every saver and face, checked against LangGraph (in-memory).

Such a config names the subgraph's namespace, its checkpoint and, in ``checkpoint_map``, the
parent checkpoint it belongs to. Invoking the root graph with it replays that parent
checkpoint; a ``checkpointer=True`` subgraph replays from exactly the addressed checkpoint
(finished nodes are not run again), a per-invocation subgraph runs again from its start.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest

from tests.hitl._side_by_side import LG, WP, snapshot_shape
from tests.hitl.conftest import LOOP, Face

pytestmark = LOOP

CPS = pytest.mark.parametrize("cp", [True, None], ids=["persistent", "per-invocation"])


class S(TypedDict):
    value: Annotated[list, operator.add]


def recorder(seen: list, name: str) -> Any:
    def node(s: S) -> dict:
        seen.append((name, list(s["value"])))
        return {"value": [name]}

    return node


def nested(lib: Any, seen: list, cp: Any) -> Any:
    """root: mid -> after; mid: m1 -> inner; inner: i1 -> i2."""
    inner = lib.StateGraph(S).add_node("i1", recorder(seen, "i1")).add_node("i2", recorder(seen, "i2"))
    inner = inner.add_edge(lib.START, "i1").add_edge("i1", "i2").compile(checkpointer=cp)
    mid = lib.StateGraph(S).add_node("m1", recorder(seen, "m1")).add_node("inner", inner)
    mid = mid.add_edge(lib.START, "m1").add_edge("m1", "inner").compile(checkpointer=cp)
    root = lib.StateGraph(S).add_node("mid", mid).add_node("after", recorder(seen, "after"))
    return root.add_edge(lib.START, "mid").add_edge("mid", "after")


async def _replay_from_subgraph_history(lib: Any, face: Face, saver: Any, config: dict, cp: Any) -> list:
    seen: list = []
    graph = nested(lib, seen, cp).compile(checkpointer=saver)
    await face.invoke(graph, {"value": []}, config)
    top = [s for s in await face.history(graph, config) if s.next == ("mid",)][-1]
    mid_past = [s for s in await face.history(graph, top.tasks[0].state) if s.next == ("inner",)][0]
    inner_past = [s for s in await face.history(graph, mid_past.tasks[0].state) if s.next == ("i2",)][0]
    observed = []
    for past in (inner_past, mid_past):
        seen.clear()
        out = await face.invoke(graph, None, past.config)
        observed.append((list(seen), out))
    history = await face.history(graph, config)
    observed.append([(s.metadata["source"], s.next) for s in history[:3]])
    return observed


@CPS
async def test_replay_from_a_nested_subgraph_checkpoint(saver: Any, face: Face, config: dict, cp: Any) -> None:
    ours = await _replay_from_subgraph_history(WP, face, saver, config, cp)
    reference = await _replay_from_subgraph_history(
        LG, Face("sync"), LG.InMemorySaver(), {"configurable": {"thread_id": "h"}}, cp
    )
    assert ours == reference
    final = {"value": ["m1", "m1", "i1", "i2", "after"]}
    if cp is True:  # only what comes after the addressed checkpoints runs again
        assert ours[0] == ([("i2", ["m1", "i1"]), ("after", ["m1", "m1", "i1", "i2"])], final)
        assert [n for n, _ in ours[1][0]] == ["i1", "i2", "after"]
    else:  # a per-invocation subgraph starts over under its new task's namespace
        assert [n for n, _ in ours[0][0]] == ["m1", "i1", "i2", "after"]
    # the root replays (and forks) the parent checkpoint the subgraph checkpoint belongs to
    assert ours[2] == [("loop", ()), ("loop", ("after",)), ("fork", ("mid",))]


async def _replay_interrupted(lib: Any, face: Face, saver: Any, config: dict, cp: Any) -> list:
    asked: list = []

    def ask(s: S) -> dict:
        asked.append(list(s["value"]))
        return {"value": [lib.interrupt("Q?")]}

    sub = lib.StateGraph(S).add_node("prep", lambda s: {"value": ["p"]}).add_node("ask", ask)
    sub = sub.add_edge(lib.START, "prep").add_edge("prep", "ask").compile(checkpointer=cp)
    graph = lib.StateGraph(S).add_node("sub", sub).add_edge(lib.START, "sub").compile(checkpointer=saver)
    await face.invoke(graph, {"value": []}, config)
    sub_state = (await face.get_state(graph, config, subgraphs=True)).tasks[0].state
    out1 = await face.invoke(graph, None, sub_state.config)  # replays: asks again
    snap = snapshot_shape(await face.get_state(graph, config, subgraphs=True))
    out2 = await face.invoke(graph, lib.Command(resume="A"), config)
    return [out1["__interrupt__"][0].value, snap, out2, asked]


@CPS
async def test_replay_from_an_interrupted_subgraphs_state(saver: Any, face: Face, config: dict, cp: Any) -> None:
    ours = await _replay_interrupted(WP, face, saver, config, cp)
    reference = await _replay_interrupted(
        LG, Face("sync"), LG.InMemorySaver(), {"configurable": {"thread_id": "i"}}, cp
    )
    assert ours == reference
    assert ours[0] == "Q?"
    assert ours[1]["next"] == ("sub",) and ours[1]["tasks"][0][3]["next"] == ("ask",)
    assert ours[2] == {"value": ["p", "A"]}


async def test_config_without_a_map_runs_from_the_latest_checkpoint(saver: Any, face: Face, config: dict) -> None:
    # the task's namespace alone (get_state without subgraphs=True) names no checkpoint
    seen: list = []
    graph = nested(WP, seen, True).compile(checkpointer=saver)
    await face.invoke(graph, {"value": []}, config, interrupt_before=["after"])
    ref = [s for s in await face.history(graph, config) if s.next == ("mid",)][-1].tasks[0].state
    assert set(ref["configurable"]) == {"thread_id", "checkpoint_ns"}
    seen.clear()
    out = await face.invoke(graph, None, {"configurable": {**config["configurable"], **ref["configurable"]}})
    assert seen == [("after", ["m1", "m1", "i1", "i2"])]
    assert out["value"][-1] == "after"
