"""interrupt_before / interrupt_after="*" over every saver, checked against LangGraph."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest

from tests.hitl._side_by_side import LG, WP
from tests.hitl.conftest import LOOP, Face

pytestmark = LOOP


class State(TypedDict):
    input: str


def three_steps(lib: Any) -> Any:
    builder = lib.StateGraph(State)
    for name in ("step_1", "step_2", "step_3"):
        builder.add_node(name, lambda s: None)
    builder.add_edge(lib.START, "step_1").add_edge("step_1", "step_2").add_edge("step_2", "step_3")
    return builder


def _reference(kind: str) -> list[tuple[str, ...]]:
    graph = three_steps(LG).compile(checkpointer=LG.InMemorySaver(), **{kind: "*"})
    cfg = {"configurable": {"thread_id": "ref"}}
    nexts = []
    graph.invoke({"input": "x"}, cfg)
    for _ in range(3):
        nexts.append(graph.get_state(cfg).next)
        graph.invoke(None, cfg)
    nexts.append(graph.get_state(cfg).next)
    return nexts


@pytest.mark.parametrize("kind", ["interrupt_after", "interrupt_before"])
async def test_star_pauses_at_every_node_but_not_at_the_input(
    saver: Any, face: Face, config: dict, kind: str
) -> None:
    # "*" names every node of the graph; the step that copies the input into the channels
    # is not one of them, so the first pause is after (before) step_1, not before it.
    expected = {
        "interrupt_after": [("step_2",), ("step_3",), (), ()],
        "interrupt_before": [("step_1",), ("step_2",), ("step_3",), ()],
    }[kind]
    assert _reference(kind) == expected
    graph = three_steps(WP).compile(checkpointer=saver, **{kind: "*"})
    nexts = []
    assert await face.invoke(graph, {"input": "x"}, config) == {"input": "x"}
    for _ in range(3):
        nexts.append((await face.get_state(graph, config)).next)
        await face.invoke(graph, None, config)
    nexts.append((await face.get_state(graph, config)).next)
    assert nexts == expected
    steps = [s.metadata["step"] for s in await face.history(graph, config)]
    assert steps == [3, 2, 1, 0, -1]


async def test_star_per_call_matches_compiled(saver: Any, face: Face, config: dict) -> None:
    graph = three_steps(WP).compile(checkpointer=saver)
    await face.invoke(graph, {"input": "x"}, config, interrupt_after="*")
    assert (await face.get_state(graph, config)).next == ("step_2",)
