"""Replay and fork of a parent checkpoint rewind persistent subgraphs, on every saver.

A subgraph compiled with ``checkpointer=True`` keeps one history across the parent's runs
(namespace ``"<node>"``). Replaying or forking a past parent checkpoint must start that
subgraph from its state as of that parent checkpoint, not from its latest state. Each scenario
runs on LangGraph (in-memory) as the reference and on waypoint over every saver and face.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from tests.hitl._side_by_side import LG, WP
from tests.hitl.conftest import LOOP, Face

pytestmark = LOOP


class S(TypedDict):
    value: Annotated[list, operator.add]


def sub_then_after(lib: Any, seen: list, *, loop_twice: bool = False) -> Any:
    """Parent: START -> sub (persistent subgraph recording what it saw) -> after [-> sub]."""

    def sub_step(s: S) -> dict:
        seen.append(list(s["value"]))
        return {"value": ["s"]}

    sub = lib.StateGraph(S).add_node("sub_step", sub_step).add_edge(lib.START, "sub_step")
    builder = lib.StateGraph(S).add_node("sub", sub.compile(checkpointer=True))
    builder.add_node("after", lambda s: {"value": ["a"]})
    builder.add_edge(lib.START, "sub").add_edge("sub", "after")
    if loop_twice:
        builder.add_conditional_edges(
            "after", lambda s: "sub" if s["value"].count("a") < 2 else lib.END
        )
    return builder


async def _replay_first(lib: Any, face: Face, saver: Any, config: dict) -> list:
    seen: list = []
    graph = sub_then_after(lib, seen).compile(checkpointer=saver)
    await face.invoke(graph, {"value": []}, config)
    await face.invoke(graph, {"value": []}, config)
    first = [s for s in await face.history(graph, config) if s.next == ("sub",)][-1]
    seen.clear()
    out = await face.invoke(graph, None, first.config)
    observed = [list(seen), out]
    seen.clear()
    out = await face.invoke(graph, {"value": ["x"]}, config)  # the thread goes on from the replay
    return [*observed, list(seen), out]


async def test_replay_starts_persistent_subgraph_from_its_state_at_that_checkpoint(
    saver: Any, face: Face, config: dict
) -> None:
    ours = await _replay_first(WP, face, saver, config)
    reference = await _replay_first(LG, Face("sync"), LG.InMemorySaver(), {"configurable": {"thread_id": "r"}})
    assert ours == reference
    # the subgraph saw no earlier runs: the first parent run had not reached it yet
    assert ours[:2] == [[[]], {"value": ["s", "a"]}]
    # the next run continues from the replayed branch: its own "s" plus the parent's state
    assert ours[2] == [["s", "s", "a", "x"]]


async def _fork_second(lib: Any, face: Face, saver: Any, config: dict) -> list:
    seen: list = []
    graph = sub_then_after(lib, seen).compile(checkpointer=saver)
    for _ in range(3):
        await face.invoke(graph, {"value": []}, config)
    second = [s for s in await face.history(graph, config) if s.next == ("sub",)][1]
    seen.clear()
    branch = await face.update_state(graph, second.config, {"value": ["u"]}, as_node=lib.START)
    out = await face.invoke(graph, None, branch)
    return [list(seen), out]


async def test_fork_starts_persistent_subgraph_from_its_state_at_the_forked_checkpoint(
    saver: Any, face: Face, config: dict
) -> None:
    ours = await _fork_second(WP, face, saver, config)
    reference = await _fork_second(LG, Face("sync"), LG.InMemorySaver(), {"configurable": {"thread_id": "f"}})
    assert ours == reference
    # two parent runs had finished before the forked checkpoint: the subgraph sees the first
    # one's state (its own "s"), plus the parent's state passed in as input
    assert ours[0] == [["s", "s", "a", "u"]]


async def _replay_loop(lib: Any, face: Face, saver: Any, config: dict) -> list:
    seen: list = []
    graph = sub_then_after(lib, seen, loop_twice=True).compile(checkpointer=saver)
    await face.invoke(graph, {"value": []}, config)
    observed = [list(seen)]
    first = [s for s in await face.history(graph, config) if s.next == ("sub",)][-1]
    seen.clear()
    out = await face.invoke(graph, None, first.config)
    return [*observed, list(seen), out]


async def test_replay_rewinds_a_subgraph_once_per_run(saver: Any, face: Face, config: dict) -> None:
    # the second visit of the same subgraph node in the replayed run continues from the first
    ours = await _replay_loop(WP, face, saver, config)
    reference = await _replay_loop(LG, Face("sync"), LG.InMemorySaver(), {"configurable": {"thread_id": "l"}})
    assert ours == reference
    assert ours[1] == [[], ["s", "s", "a"]]


async def test_replay_of_a_later_checkpoint_skips_the_subgraph(saver: Any, face: Face, config: dict) -> None:
    seen: list = []
    graph = sub_then_after(WP, seen).compile(checkpointer=saver)
    await face.invoke(graph, {"value": []}, config)
    after = [s for s in await face.history(graph, config) if s.next == ("after",)][-1]
    seen.clear()
    assert await face.invoke(graph, None, after.config) == {"value": ["s", "a"]}
    assert seen == []
