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


# --- item 10: a schema that is not a class is one root channel -------------------------------


ROOT_CASES = [
    # schema, input, node output for name n, final value, values stream
    (Annotated[list, operator.add], ["x"], lambda n: [n], ["x", "a", "b"],
     [["x"], ["x", "a"], ["x", "a", "b"]]),
    (list[str], ["x"], lambda n: [n], ["b"], [["x"], ["a"], ["b"]]),
    (Annotated[int, operator.add], 1, lambda n: 10, 21, [1, 11, 21]),
    (dict, {"x": 1}, lambda n: {n: 1}, {"b": 1}, [{"x": 1}, {"a": 1}, {"b": 1}]),
]


@pytest.mark.parametrize("schema, inp, out, final, stream", ROOT_CASES)
def test_root_schema_invoke_stream_state(
    schema: Any, inp: Any, out: Any, final: Any, stream: list[Any], saver: Any
) -> None:
    seen: list[Any] = []

    def node(name: str) -> Any:
        return lambda s: (seen.append(s), out(name))[1]

    g = StateGraph(schema)
    g.add_node("a", node("a"))
    g.add_node("b", node("b"))
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    graph = g.compile(checkpointer=saver)
    assert graph.invoke(inp, _cfg("1")) == final
    assert seen == stream[:2]  # each node receives the whole state value
    snap = graph.get_state(_cfg("1"))
    assert snap.values == final and snap.next == ()
    assert list(graph.stream(inp, _cfg("2"), stream_mode="values")) == stream
    assert list(graph.stream(inp, _cfg("3"), stream_mode="updates")) == [
        {"a": out("a")}, {"b": out("b")}
    ]
    # history replays the root value of every step
    assert [h.values for h in graph.get_state_history(_cfg("2"))][:3] == stream[::-1]


def test_root_schema_update_state_reduces(saver: Any) -> None:
    graph = _chain(Annotated[list, operator.add], lambda n: [n], saver)
    graph.invoke(["x"], _cfg("1"))
    graph.update_state(_cfg("1"), ["u"])
    assert graph.get_state(_cfg("1")).values == ["x", "a", "b", "u"]
    graph.update_state(_cfg("1"), Overwrite(["only"]))
    assert graph.get_state(_cfg("1")).values == ["only"]


def test_root_schema_commands_and_interrupts(saver: Any) -> None:
    from waypoint.types import Command, interrupt

    g = StateGraph(Annotated[list, operator.add])
    g.add_node("a", lambda s: Command(update=["c"], goto="b"))
    g.add_node("b", lambda s: [interrupt("q")])
    g.add_edge(START, "a")
    graph = g.compile(checkpointer=saver)
    out = graph.invoke(["x"], _cfg("1"))
    assert list(out) == ["__interrupt__"] and out["__interrupt__"][0].value == "q"
    snap = graph.get_state(_cfg("1"))
    assert snap.values == ["x", "c"] and snap.next == ("b",)
    chunks = list(graph.stream(["y"], _cfg("2"), stream_mode="values"))
    assert chunks[:-1] == [["y"], ["y", "c"]] and list(chunks[-1]) == ["__interrupt__"]
    assert graph.invoke(Command(resume="ans"), _cfg("1")) == ["x", "c", "ans"]


def test_class_node_hint_of_a_plain_type_is_not_an_input_schema() -> None:
    def node(state: dict) -> dict:  # `dict` is a root schema, but here only a loose hint
        return {"log": [f"seen {len(state['log'])}"]}

    g = StateGraph(LogTD).add_node(node).add_edge(START, "node")
    assert g.compile().invoke({"log": ["x"]}) == {"log": ["x", "seen 1"]}


# --- item 10: Overwrite bypasses a reducer ---------------------------------------------------


class LogTD(TypedDict):
    log: Annotated[list, operator.add]


@pytest.mark.parametrize(
    "wrap",
    [Overwrite, lambda v: {"__overwrite__": v}, lambda v: {"type": "__overwrite__", "value": v}],
    ids=["dataclass", "sentinel-dict", "json-dict"],
)
def test_overwrite_forms_replace_and_win_over_the_step(wrap: Any, saver: Any) -> None:
    g = StateGraph(LogTD)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": wrap(["b"])})
    g.add_node("c", lambda s: {"log": ["c"]})  # same step as b: b's Overwrite wins
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")
    graph = g.compile(checkpointer=saver)
    assert graph.invoke({"log": ["x"]}, _cfg("1")) == {"log": ["b"]}
    assert graph.get_state(_cfg("1")).values == {"log": ["b"]}
    graph.update_state(_cfg("1"), {"log": ["more"]}, as_node="c")  # reducer applies again
    assert graph.get_state(_cfg("1")).values == {"log": ["b", "more"]}


def test_two_overwrites_in_one_step_are_an_invalid_update() -> None:
    g = StateGraph(LogTD)
    g.add_node("a", lambda s: {"log": Overwrite(["a"])})
    g.add_node("b", lambda s: {"log": Overwrite(["b"])})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    with pytest.raises(InvalidUpdateError, match="Overwrite"):
        g.compile().invoke({"log": []})


def test_overwrite_has_langgraphs_discriminator() -> None:
    assert Overwrite(["v"]).type == "__overwrite__"
