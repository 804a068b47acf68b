"""Command(resume=...) after update_state forked a checkpoint around a subgraph interrupt, on
every saver and face, checked against LangGraph (in-memory).

A resume value that is not a mapping of pending interrupt ids is taken by the first
``interrupt()`` of the run that has no answer yet, wherever it is: so it still reaches an
interrupt whose task id changed because ``update_state`` wrote a new checkpoint.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest

from tests.hitl._side_by_side import LG, WP, snapshot_shape
from tests.hitl.conftest import LOOP, Face
from waypoint.errors import InvalidUpdateError
from waypoint.types import Command

pytestmark = LOOP


class S(TypedDict):
    value: Annotated[list, operator.add]


def asking_subgraph(lib: Any, cp: Any) -> Any:
    """root: sub -> after; sub: s1 -> ask (interrupt)."""
    sub = lib.StateGraph(S).add_node("s1", lambda s: {"value": ["s1"]})
    sub = sub.add_node("ask", lambda s: {"value": [lib.interrupt("Q?")]})
    sub = sub.add_edge(lib.START, "s1").add_edge("s1", "ask").compile(checkpointer=cp)
    root = lib.StateGraph(S).add_node("sub", sub).add_node("after", lambda s: {"value": ["after"]})
    return root.add_edge(lib.START, "sub").add_edge("sub", "after")


async def _fork_then_resume(lib: Any, face: Face, saver: Any, config: dict, cp: Any, where: str) -> list:
    graph = asking_subgraph(lib, cp).compile(checkpointer=saver)
    await face.invoke(graph, {"value": []}, config)
    as_node = None
    if where == "parent-head":
        target = (await face.get_state(graph, config)).config
    elif where == "parent-past":
        target = [s for s in await face.history(graph, config) if s.next == ("sub",)][-1].config
    elif where == "subgraph-state":
        target = (await face.get_state(graph, config, subgraphs=True)).tasks[0].state.config
    else:  # a past checkpoint from the subgraph's own history
        sub_ref = (await face.get_state(graph, config)).tasks[0].state
        target = [s for s in await face.history(graph, sub_ref) if s.next == ("ask",)][-1].config
        as_node = "s1"
    branch = await face.update_state(graph, target, {"value": ["u"]}, as_node=as_node)
    forked = snapshot_shape(await face.get_state(graph, config, subgraphs=True))
    out = await face.invoke(graph, lib.Command(resume="A"), branch)
    final = snapshot_shape(await face.get_state(graph, config))
    return [forked, out, final]


@pytest.mark.parametrize("cp", [True, None], ids=["persistent", "per-invocation"])
@pytest.mark.parametrize("where", ["parent-head", "parent-past", "subgraph-state", "subgraph-past"])
async def test_resume_after_forking_around_a_subgraph_interrupt(
    saver: Any, face: Face, config: dict, cp: Any, where: str
) -> None:
    ours = await _fork_then_resume(WP, face, saver, config, cp, where)
    reference = await _fork_then_resume(
        LG, Face("sync"), LG.InMemorySaver(), {"configurable": {"thread_id": "f"}}, cp, where
    )
    assert ours == reference
    forked, out, final = ours
    assert out["value"][-2:] == ["A", "after"] and "__interrupt__" not in out
    assert final["next"] == () and final["values"] == out
    if where.startswith("subgraph"):
        # the update landed inside the subgraph, before the question is asked again
        assert forked["tasks"][0][3]["values"] == {"value": ["s1", "u"]}
        assert out == {"value": ["s1", "u", "A", "after"]}


async def test_resume_after_interrupt_before_reaches_the_next_interrupt(
    saver: Any, face: Face, config: dict
) -> None:
    async def scenario(lib: Any, face: Face, saver: Any, config: dict) -> Any:
        builder = lib.StateGraph(S).add_node("a", lambda s: {"value": ["a"]})
        builder.add_node("ask", lambda s: {"value": [lib.interrupt("Q?")]})
        graph = builder.add_edge(lib.START, "a").add_edge("a", "ask").compile(checkpointer=saver)
        await face.invoke(graph, {"value": []}, config, interrupt_before=["ask"])
        return await face.invoke(graph, lib.Command(resume="B"), config)

    ours = await scenario(WP, face, saver, config)
    assert ours == await scenario(LG, Face("sync"), LG.InMemorySaver(), {"configurable": {"thread_id": "b"}})
    assert ours == {"value": ["a", "B"]}


async def test_resume_with_nothing_left_to_run_is_an_error(saver: Any, face: Face, config: dict) -> None:
    # LangGraph silently drops the value here; waypoint says so instead
    graph = asking_subgraph(WP, True).compile(checkpointer=saver)
    await face.invoke(graph, {"value": []}, config)
    await face.invoke(graph, Command(resume="A"), config)
    with pytest.raises(InvalidUpdateError, match="no task to run"):
        await face.invoke(graph, Command(resume="again"), config)
