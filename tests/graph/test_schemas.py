"""State schemas: TypedDict, dataclass, pydantic; reducers; input/output schemas."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

import pytest
from pydantic import BaseModel

from waypoint.errors import InvalidUpdateError
from waypoint.graph import START, StateGraph


class TD(TypedDict):
    name: str
    items: Annotated[list[str], operator.add]


@dataclass
class DC:
    name: str = ""
    items: Annotated[list[str], operator.add] = field(default_factory=list)


class PM(BaseModel):
    name: str = ""
    items: Annotated[list[str], operator.add] = []


@pytest.mark.parametrize("schema, kind", [(TD, dict), (DC, DC), (PM, PM)])
def test_nodes_receive_the_schema_type(schema: Any, kind: type) -> None:
    seen: list[Any] = []

    def node(state: Any) -> dict:
        seen.append(state)
        return {"name": "done", "items": ["x"]}

    builder = StateGraph(schema).add_node(node).add_edge(START, "node")
    out = builder.compile().invoke({"name": "in", "items": ["a"]})
    assert out == {"name": "done", "items": ["a", "x"]}
    assert isinstance(seen[0], kind)
    assert (seen[0]["name"] if kind is dict else seen[0].name) == "in"


def test_object_outputs_update_only_set_or_changed_fields() -> None:
    def node(state: PM) -> PM:
        return PM(items=["y"])  # name keeps its value: defaults never overwrite state

    builder = StateGraph(PM).add_node(node).add_edge(START, "node")
    assert builder.compile().invoke(PM(name="keep")) == {"name": "keep", "items": ["y"]}

    def dnode(state: DC) -> DC:
        return DC(name="new")

    builder = StateGraph(DC).add_node(dnode).add_edge(START, "dnode")
    assert builder.compile().invoke(DC(name="old", items=["a"])) == {"name": "new", "items": ["a"]}


def test_two_writes_to_last_value_in_one_step_is_invalid_update() -> None:
    builder = StateGraph(TD)
    builder.add_node("x", lambda s: {"name": "1"})
    builder.add_node("y", lambda s: {"name": "2"})
    builder.add_edge(START, "x").add_edge(START, "y")
    with pytest.raises(InvalidUpdateError, match="'name'.*one value per step"):
        builder.compile().invoke({"name": ""})


def test_reducer_merges_parallel_writes_in_task_order() -> None:
    builder = StateGraph(TD)
    for n in ("c", "a", "b"):
        builder.add_node(n, (lambda n: lambda s: {"items": [n]})(n))
        builder.add_edge(START, n)
    assert builder.compile().invoke({"name": ""})["items"] == ["a", "b", "c"]


def test_custom_reducer() -> None:
    def keep_max(a: int, b: int) -> int:
        return max(a, b)

    class S(TypedDict):
        best: Annotated[int, keep_max]

    builder = StateGraph(S)
    builder.add_node("lo", lambda s: {"best": 3}).add_node("hi", lambda s: {"best": 9})
    builder.add_edge(START, "lo").add_edge(START, "hi")
    assert builder.compile().invoke({"best": 5}) == {"best": 9}


def test_input_and_output_schemas() -> None:
    class In(TypedDict):
        question: str

    class Out(TypedDict):
        answer: str

    class Full(In, Out):
        scratch: str

    def think(state: In) -> dict:
        return {"scratch": state["question"] + "?"}

    def answer(state: Full) -> dict:
        return {"answer": state["scratch"] + "!"}

    builder = StateGraph(Full, input_schema=In, output_schema=Out)
    builder.add_node(think).add_node(answer).add_edge(START, "think").add_edge("think", "answer")
    assert builder.compile().invoke({"question": "hi", "scratch": "ignored"}) == {"answer": "hi?!"}
    legacy = StateGraph(Full, input=In, output=Out)
    legacy.add_node(think).add_node(answer).add_edge(START, "think").add_edge("think", "answer")
    assert legacy.compile().invoke({"question": "q"}) == {"answer": "q?!"}


def test_node_private_input_schema_from_annotation() -> None:
    class S(TypedDict):
        a: str

    class Private(TypedDict):
        secret: str

    def write_private(state: S) -> dict:
        return {"secret": state["a"] * 2}

    def read_private(state: Private) -> dict:
        return {"a": state["secret"] + "!"}

    builder = StateGraph(S).add_node(write_private).add_node(read_private)
    builder.add_edge(START, "write_private").add_edge("write_private", "read_private")
    assert builder.compile().invoke({"a": "x"}) == {"a": "xx!"}


def test_node_input_keys_unknown_keys_ignored_and_bad_returns() -> None:
    builder = StateGraph(TD).add_node("n", lambda s: {"nope": 1, "name": "ok"}).add_edge(START, "n")
    assert builder.compile().invoke({"name": ""}) == {"name": "ok", "items": []}
    builder = StateGraph(TD).add_node("n", lambda s: "oops").add_edge(START, "n")
    with pytest.raises(InvalidUpdateError, match="must return a dict"):
        builder.compile().invoke({"name": ""})


def test_input_none_without_checkpointer_is_an_error() -> None:
    from waypoint.errors import EmptyInputError

    builder = StateGraph(TD).add_node("n", lambda s: None).add_edge(START, "n")
    with pytest.raises(EmptyInputError):
        builder.compile().invoke(None)
