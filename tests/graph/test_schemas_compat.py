"""Schema forms LangGraph programs use: qualified fields (NotRequired, Required, ReadOnly) keep
their reducers, non-class schemas are one root channel, and Overwrite bypasses a reducer.

Graph behaviour is backend-independent; each case runs on the in-memory and SQLite savers so
the values also survive a round trip through stored checkpoints."""

from __future__ import annotations

import operator
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

import pytest
import typing_extensions
from pydantic import BaseModel
from typing_extensions import NotRequired, ReadOnly, Required

from waypoint.checkpoint.memory import InMemorySaver
from waypoint.checkpoint.sqlite import SqliteSaver
from waypoint.errors import InvalidUpdateError
from waypoint.graph import END, START, StateGraph
from waypoint.types import Overwrite


@pytest.fixture(params=["memory", "sqlite"])
def saver(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemorySaver()
        return
    s = SqliteSaver(tmp_path / "checkpoints.db")
    s.setup()
    try:
        yield s
    finally:
        s.close()


def _chain(schema: Any, out: Any, saver: Any, *, input_schema: Any = None) -> Any:
    """START -> a -> b -> END, each node returning ``out(name)``."""
    g = StateGraph(schema, input_schema=input_schema)
    g.add_node("a", lambda s: out("a"))
    g.add_node("b", lambda s: out("b"))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    return g.compile(checkpointer=saver)


def _cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


# --- item 8: qualifiers never hide a reducer -------------------------------------------------


class NotRequiredTD(TypedDict):
    title: str
    log: NotRequired[Annotated[list[str], operator.add]]


class RequiredTD(TypedDict, total=False):
    title: str
    log: Required[Annotated[list[str], operator.add]]


class ReadOnlyTD(TypedDict):
    title: str
    log: ReadOnly[Annotated[list[str], operator.add]]


class OuterAnnotatedTD(TypedDict):
    title: str
    log: Annotated[NotRequired[list[str]], operator.add]


class DeepTD(TypedDict):
    title: str
    log: Annotated[NotRequired[ReadOnly[Annotated[list[str], "doc"]]], operator.add]


@pytest.mark.parametrize("schema", [NotRequiredTD, RequiredTD, ReadOnlyTD, OuterAnnotatedTD, DeepTD])
def test_qualified_reducer_field_keeps_its_reducer(schema: Any, saver: Any) -> None:
    graph = _chain(schema, lambda n: {"log": [n]}, saver)
    out = graph.invoke({"title": "t", "log": ["input"]}, _cfg("1"))
    assert out == {"title": "t", "log": ["input", "a", "b"]}
    assert graph.get_state(_cfg("1")).values["log"] == ["input", "a", "b"]
    # a second run on the thread keeps reducing onto the stored list
    assert graph.invoke({"log": ["again"]}, _cfg("1"))["log"] == ["input", "a", "b", "again", "a", "b"]


def test_qualified_fields_in_input_schema_and_node_schema(saver: Any) -> None:
    class Inp(TypedDict):
        log: NotRequired[Annotated[list[str], operator.add]]

    class Private(TypedDict):
        log: Required[Annotated[list[str], operator.add]]

    g = StateGraph(NotRequiredTD, input_schema=Inp)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b", str(len(s["log"]))]}, input_schema=Private)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    graph = g.compile(checkpointer=saver)
    assert graph.invoke({"log": ["in"]}, _cfg("1")) == {"log": ["in", "a", "b", "2"]}


@dataclass
class DC:
    title: str = ""
    log: Annotated[list[str], operator.add] = field(default_factory=list)


class PM(BaseModel):
    title: str = ""
    log: Annotated[list[str], operator.add] = []


@pytest.mark.parametrize("schema", [DC, PM])
def test_class_schemas_still_reduce(schema: Any, saver: Any) -> None:
    graph = _chain(schema, lambda n: {"log": [n]}, saver)
    assert graph.invoke({"title": "t", "log": ["input"]}, _cfg("1"))["log"] == ["input", "a", "b"]


def test_strip_qualifiers_typing_and_typing_extensions() -> None:
    from waypoint.graph.schema import strip_qualifiers

    add = operator.add
    assert strip_qualifiers(typing.NotRequired[int]) is int
    assert strip_qualifiers(typing_extensions.Required[typing_extensions.ReadOnly[int]]) is int
    assert strip_qualifiers(Annotated[typing.NotRequired[Annotated[list, add]], "x"]) == (
        Annotated[list, add, "x"]
    )
    assert strip_qualifiers(Annotated[list, add]) == Annotated[list, add]
    assert strip_qualifiers(list[int]) == list[int]
