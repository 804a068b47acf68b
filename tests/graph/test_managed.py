"""Managed state keys (``RemainingSteps``, ``IsLastStep``), side by side with LangGraph 1.2."""


import dataclasses
import operator
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import pytest

import langgraph.checkpoint.memory as lg_memory
import langgraph.graph as lg_graph
import langgraph.managed as lg_managed
import langgraph.types as lg_types

import waypoint.checkpoint.memory as wp_memory
import waypoint.graph as wp_graph
import waypoint.managed as wp_managed
import waypoint.types as wp_types
from waypoint.errors import InvalidGraphError

WP = SimpleNamespace(graph=wp_graph, managed=wp_managed, memory=wp_memory, types=wp_types)
LG = SimpleNamespace(graph=lg_graph, managed=lg_managed, memory=lg_memory, types=lg_types)


def loop_graph(lib: Any, *, checkpointer: Any = None, ask_at: int | None = None) -> Any:
    class S(TypedDict):
        n: int
        log: Annotated[list, operator.add]
        remaining_steps: lib.managed.RemainingSteps
        last: lib.managed.IsLastStep

    def step(s: S) -> dict:
        if s["n"] == ask_at:
            lib.types.interrupt("go on?")
        return {"log": [(s["remaining_steps"], s["last"])], "n": s["n"] + 1}

    def route(s: S) -> str:  # routing functions see managed values too
        return lib.graph.END if s["last"] or s["remaining_steps"] <= 2 or s["n"] >= 30 else "step"

    b = lib.graph.StateGraph(S)
    b.add_node("step", step)
    b.add_edge(lib.graph.START, "step")
    b.add_conditional_edges("step", route)
    return b.compile(checkpointer=checkpointer)


@pytest.mark.parametrize("limit", [3, 5, 8, 25])
def test_remaining_steps_and_last_step_match_langgraph(limit: int) -> None:
    def run(lib: Any) -> Any:
        return loop_graph(lib).invoke({"n": 0, "log": []}, {"recursion_limit": limit})

    out = run(WP)
    assert out == run(LG)
    assert "remaining_steps" not in out and "last" not in out  # never part of the output
    assert out["log"][0][0] == limit - 1


def test_values_after_an_interrupt_count_from_the_resumed_run() -> None:
    def run(lib: Any) -> Any:
        graph = loop_graph(lib, checkpointer=lib.memory.InMemorySaver(), ask_at=2)
        cfg = {"configurable": {"thread_id": "t"}, "recursion_limit": 6}
        first = graph.invoke({"n": 0, "log": []}, cfg)
        second = graph.invoke(lib.types.Command(resume=True), cfg)
        state = graph.get_state(cfg).values
        # LangGraph's in-memory saver turns the stored tuples into lists; waypoint's keeps them
        return [tuple(x) for x in first["log"]], [tuple(x) for x in second["log"]], sorted(state)

    assert run(WP) == run(LG)
    assert run(WP)[2] == ["log", "n"]  # not stored in checkpoints either


def test_input_and_node_writes_to_managed_keys_are_ignored() -> None:
    def run(lib: Any) -> Any:
        class S(TypedDict):
            n: int
            remaining_steps: lib.managed.RemainingSteps

        b = lib.graph.StateGraph(S)
        b.add_node("w", lambda s: {"remaining_steps": 99, "n": s["remaining_steps"]})
        b.add_edge(lib.graph.START, "w")
        return b.compile().invoke({"n": 0, "remaining_steps": 4}, {"recursion_limit": 10})

    assert run(WP) == run(LG) == {"n": 9}


def test_dataclass_state_reads_managed_values() -> None:
    @dataclasses.dataclass
    class D:
        n: int = 0
        remaining_steps: wp_managed.RemainingSteps = 0

    b = wp_graph.StateGraph(D)
    b.add_node("w", lambda s: {"n": s.remaining_steps})
    b.add_edge(wp_graph.START, "w")
    assert b.compile().invoke(D(), {"recursion_limit": 7}) == {"n": 6}


def test_managed_values_in_input_or_output_schema_are_refused() -> None:
    class S(TypedDict):
        n: int
        remaining_steps: wp_managed.RemainingSteps

    class Out(TypedDict):
        last: wp_managed.IsLastStep

    with pytest.raises(InvalidGraphError, match="not allowed in an input or output schema"):
        wp_graph.StateGraph(S, input_schema=Out)
    with pytest.raises(InvalidGraphError, match=r"\['last'\]"):
        wp_graph.StateGraph(S, output_schema=Out)
