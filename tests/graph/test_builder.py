"""StateGraph building and compile-time validation."""

from __future__ import annotations

from operator import add
from typing import Annotated, Literal, TypedDict

import pytest

from waypoint.errors import InvalidGraphError
from waypoint.graph import END, START, StateGraph
from waypoint.types import Command


class State(TypedDict):
    log: Annotated[list[str], add]


def step(name: str):
    def fn(state: State) -> dict:
        return {"log": [name]}

    fn.__name__ = name
    return fn


def test_node_name_from_function_or_explicit() -> None:
    def first(state: State) -> dict:
        return {"log": ["first"]}

    builder = StateGraph(State).add_node(first).add_node("second", step("x"))
    builder.add_edge(START, "first").add_edge("first", "second")
    assert builder.compile().invoke({"log": []}) == {"log": ["first", "x"]}
    assert set(builder.nodes) == {"first", "second"}


def test_callable_object_node() -> None:
    class Adder:
        def __call__(self, state: State) -> dict:
            return {"log": ["obj"]}

    builder = StateGraph(State).add_node("obj", Adder()).add_edge(START, "obj")
    assert builder.compile().invoke({"log": []}) == {"log": ["obj"]}


def test_add_sequence_entry_and_finish_points() -> None:
    builder = StateGraph(State)
    builder.add_sequence([step("a"), ("b", step("b")), step("c")])
    builder.set_entry_point("a")
    builder.set_finish_point("c")
    assert builder.compile().invoke({"log": []}) == {"log": ["a", "b", "c"]}


@pytest.mark.parametrize("name", [START, END, "a|b", "a:b"])
def test_reserved_node_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidGraphError, match="reserved"):
        StateGraph(State).add_node(name, step("x"))


def test_duplicate_node_is_rejected() -> None:
    builder = StateGraph(State).add_node("a", step("a"))
    with pytest.raises(InvalidGraphError, match="already present"):
        builder.add_node("a", step("a"))


def test_edge_to_unknown_node_names_it() -> None:
    builder = StateGraph(State).add_node("a", step("a")).add_edge(START, "a").add_edge("a", "ghost")
    with pytest.raises(InvalidGraphError, match="ghost"):
        builder.compile()
    builder = StateGraph(State).add_node("a", step("a")).add_edge(START, "a").add_edge("nope", "a")
    with pytest.raises(InvalidGraphError, match="nope"):
        builder.compile()
    builder = StateGraph(State).add_node("a", step("a")).add_edge(START, "a").add_edge(["a", "zz"], END)
    with pytest.raises(InvalidGraphError, match="zz"):
        builder.compile()


def test_missing_entry_point() -> None:
    builder = StateGraph(State).add_node("a", step("a"))
    with pytest.raises(InvalidGraphError, match="entry point"):
        builder.compile()


def test_invalid_edge_ends() -> None:
    with pytest.raises(InvalidGraphError):
        StateGraph(State).add_edge(END, "a")
    with pytest.raises(InvalidGraphError):
        StateGraph(State).add_edge("a", START)


def test_unknown_interrupt_node() -> None:
    builder = StateGraph(State).add_node("a", step("a")).add_edge(START, "a")
    with pytest.raises(InvalidGraphError, match="zzz"):
        builder.compile(interrupt_before=["zzz"])


def test_literal_hints_validate_destinations() -> None:
    def route(state: State) -> Literal["a", "missing"]:
        return "a"

    builder = StateGraph(State).add_node("a", step("a")).add_edge(START, "a")
    builder.add_conditional_edges("a", route)
    with pytest.raises(InvalidGraphError, match="missing"):
        builder.compile()

    def node(state: State) -> Command[Literal["b", "nowhere"]]:
        return Command(goto="b")

    builder = StateGraph(State).add_node(node).add_node("b", step("b")).add_edge(START, "node")
    with pytest.raises(InvalidGraphError, match="nowhere"):
        builder.compile()


def test_path_map_destinations_are_validated() -> None:
    builder = StateGraph(State).add_node("a", step("a")).add_edge(START, "a")
    builder.add_conditional_edges("a", lambda s: "x", {"x": "ghost"})
    with pytest.raises(InvalidGraphError, match="ghost"):
        builder.compile()


def test_compiled_graph_exposes_builder_and_nodes() -> None:
    builder = StateGraph(State).add_node("a", step("a")).add_edge(START, "a")
    graph = builder.compile(name="mine")
    assert graph.builder is builder
    assert graph.name == "mine"
    assert "a" in graph.nodes and START in graph.nodes


def test_non_callable_node() -> None:
    with pytest.raises(InvalidGraphError, match="callable"):
        StateGraph(State).add_node("a", 42)  # type: ignore[arg-type]


def test_get_graph_draws_mermaid_with_conditional_edges() -> None:
    def route(state: State) -> Literal["b", "__end__"]:
        return "b"

    builder = StateGraph(State).add_node("a", step("a")).add_node("b", step("b"))
    builder.add_edge(START, "a").add_conditional_edges("a", route)
    drawing = builder.compile().get_graph()
    assert set(drawing.nodes) == {START, "a", "b", END}
    assert ("a", "b", True) in {(e.source, e.target, e.conditional) for e in drawing.edges}
    text = drawing.draw_mermaid()
    assert "__start__ --> a;" in text and "a -.-> b;" in text and "a -.-> __end__;" in text
