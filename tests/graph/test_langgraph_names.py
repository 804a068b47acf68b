"""LangGraph 1.2's small public behaviours, each run side by side with LangGraph: the
``Interrupt`` fields and ``interrupt(response_schema=...)``, ``GraphRecursionError``'s
message, ``Command`` and ``Command.PARENT`` from a root graph, the ``langgraph.errors``
classes and helpers."""

from __future__ import annotations

import asyncio
import importlib
import warnings
from dataclasses import dataclass
from typing import Any, TypedDict

import pytest
from pydantic import BaseModel


class Decision(BaseModel):
    approve: bool


class S(TypedDict):
    x: Any


def _mods(pkg: str) -> Any:
    class M:
        g = importlib.import_module(pkg + ".graph")
        t = importlib.import_module(pkg + ".types")
        e = importlib.import_module(pkg + ".errors")
        mem = importlib.import_module(pkg + ".checkpoint.memory")

    return M


def test_interrupt_fields_and_repr_as_langgraph() -> None:
    from langgraph.types import Interrupt as LG

    from waypoint.types import Interrupt

    for args, kw in ((("v",), {}), (("v", "abc"), {}), (("v",), {"response_schema": {"type": "string"}})):
        ours, theirs = Interrupt(*args, **kw), LG(*args, **kw)
        assert repr(ours) == repr(theirs)
        assert (ours.value, ours.id, ours.response_schema) == (theirs.value, theirs.id, theirs.response_schema)
    assert Interrupt("v", "i") == Interrupt("v", "i") != Interrupt("v", "j")
    assert Interrupt[Decision]("q").value == "q"  # generic over the answer's type, as in LangGraph
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert Interrupt("v", "i").interrupt_id == "i"
    assert caught and issubclass(caught[0].category, DeprecationWarning)
    made = Interrupt.from_ns("q", "node:1", response_schema={"type": "integer"})
    assert made.value == "q" and made.response_schema == {"type": "integer"} and len(made.id) == 32


def _ask(pkg: str, schema: Any, answers: list[Any], *, by_id: bool) -> list[Any]:
    m = _mods(pkg)

    def node(state: S) -> Any:
        return {"x": repr(m.t.interrupt("ok?", response_schema=schema))}

    graph = m.g.StateGraph(S).add_node("n", node).add_edge(m.g.START, "n").compile(checkpointer=m.mem.InMemorySaver())
    cfg = {"configurable": {"thread_id": "1"}}
    first = graph.invoke({"x": None}, cfg)["__interrupt__"][0]
    seen: list[Any] = [first.response_schema]
    for answer in answers:
        try:
            out = graph.invoke(m.t.Command(resume={first.id: answer} if by_id else answer), cfg)
            seen.append(out["x"])
        except Exception as exc:
            snap = graph.get_state(cfg)
            seen.append((type(exc).__name__, m.e.is_invalid_resume(exc), snap.next, bool(snap.tasks[0].interrupts)))
    return seen


@dataclass
class Point:
    x: int


@pytest.mark.parametrize("by_id", [False, True], ids=["value", "by-id"])
@pytest.mark.parametrize(
    "schema,answers",
    [
        (Decision, [{"approve": "maybe"}, {"approve": True}]),
        (Point, [{"x": "nope"}, {"x": "3"}]),
        ({"type": "string"}, [5]),  # a JSON Schema dict is passed on, not enforced
    ],
    ids=["pydantic", "dataclass", "json-schema"],
)
def test_interrupt_response_schema_as_langgraph(schema: Any, answers: list[Any], by_id: bool) -> None:
    ours = _ask("waypoint", schema, answers, by_id=by_id)
    theirs = _ask("langgraph", schema, answers, by_id=by_id)
    assert ours == theirs
    if schema is Decision:  # refused, still pending, then answered and returned as the model
        assert ours[1] == ("ValidationError", True, ("n",), True)
        assert ours[2] == "Decision(approve=True)"


def test_graph_recursion_error_message_as_langgraph() -> None:
    messages = []
    for pkg in ("waypoint", "langgraph"):
        m = _mods(pkg)
        b = m.g.StateGraph(S)
        b.add_node("a", lambda s: {"x": 1})
        b.add_node("b", lambda s: {"x": 2})
        b.add_edge(m.g.START, "a")
        b.add_edge("a", "b")
        b.add_edge("b", "a")
        with pytest.raises(m.e.GraphRecursionError) as info:
            b.compile().invoke({"x": 0}, {"recursion_limit": 4})
        assert isinstance(info.value, RecursionError)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "GRAPH_RECURSION_LIMIT" in messages[0]


def test_command_repr_as_langgraph() -> None:
    from langgraph.types import Command as LG, Send as LSend

    from waypoint.types import Command, Send

    for kw in ({}, {"goto": "x"}, {"update": {"a": 1}, "goto": ["x", "y"]}, {"resume": 0}, {"graph": Command.PARENT, "goto": "p"}):
        assert repr(Command(**kw)) == repr(LG(**kw)), kw
    assert repr(Command(goto=Send("n", 1))) == repr(LG(goto=LSend("n", 1)))


@pytest.mark.parametrize("is_async", [False, True])
def test_command_parent_from_a_root_graph_as_langgraph(is_async: bool) -> None:
    from waypoint.errors import InvalidUpdateError, ParentCommandAtRootError

    seen = []
    for pkg in ("waypoint", "langgraph"):
        m = _mods(pkg)
        b = m.g.StateGraph(S)
        b.add_node("a", lambda s: m.t.Command(graph=m.t.Command.PARENT, goto="elsewhere", update={"x": 1}))
        b.add_edge(m.g.START, "a")
        graph = b.compile(checkpointer=m.mem.InMemorySaver())
        cfg = {"configurable": {"thread_id": "1"}}
        with pytest.raises(m.e.ParentCommand) as info:
            if is_async:
                asyncio.run(graph.ainvoke({"x": 0}, cfg))
            else:
                graph.invoke({"x": 0}, cfg)
        cmd = info.value.args[0]
        snap = graph.get_state(cfg)
        seen.append((repr(cmd), cmd.graph, snap.next, snap.values, [t.error for t in snap.tasks]))
        if pkg == "waypoint":
            assert isinstance(info.value, ParentCommandAtRootError) and isinstance(info.value, InvalidUpdateError)
            assert "no parent graph" in str(info.value)
    assert seen[0] == seen[1]


def test_errors_module_classes_as_langgraph() -> None:
    import langgraph.errors as lg

    import waypoint.errors as wp

    timeout = dict(kind="run", run_timeout=1.0)
    for mod in (wp, lg):
        err = mod.NodeTimeoutError("n", 1.5, **timeout)
        assert not isinstance(err, TimeoutError)  # retried by the default retry policy
    assert str(wp.NodeTimeoutError("n", 1.5, **timeout)) == str(lg.NodeTimeoutError("n", 1.5, **timeout))
    idle = dict(kind="idle", idle_timeout=0.25)
    ours, theirs = wp.NodeTimeoutError("n", 2.0, **idle), lg.NodeTimeoutError("n", 2.0, **idle)
    assert str(ours) == str(theirs)
    assert (ours.node, ours.timeout, ours.elapsed, ours.kind, ours.idle_timeout, ours.run_timeout) == (
        theirs.node, theirs.timeout, theirs.elapsed, theirs.kind, theirs.idle_timeout, theirs.run_timeout)
    for mod in (wp, lg):
        with pytest.raises(ValueError):
            mod.NodeTimeoutError("n", 1.0, kind="idle")
    assert str(wp.NodeCancelledError("n")) == str(lg.NodeCancelledError("n")) and wp.NodeCancelledError("n").node == "n"
    assert str(wp.GraphDrained()) == str(lg.GraphDrained()) and wp.GraphDrained("sigterm").reason == "sigterm"
    assert issubclass(wp.GraphDrained, wp.GraphBubbleUp)
    boom = ValueError("x")
    assert wp.NodeError("n", boom) == wp.NodeError(node="n", error=boom)
    with pytest.raises(AttributeError):
        wp.NodeError("n", boom).node = "m"  # type: ignore[misc]  # frozen, as in LangGraph
    u = wp.UnknownInterruptError("m", reason="not_pending", interrupt_ids=["a"], pending_ids=["b"])
    assert (u.reason, u.interrupt_ids, u.pending_ids) == ("not_pending", ("a",), ("b",))
    assert issubclass(wp.TaskNotFound, Exception)
    assert not wp.is_invalid_resume(ValueError())


def test_ambiguous_resume_is_an_unknown_interrupt_error() -> None:
    from waypoint.checkpoint.memory import InMemorySaver
    from waypoint.errors import AmbiguousResumeError, UnknownInterruptError
    from waypoint.graph import START, StateGraph
    from waypoint.types import Command, interrupt

    g = StateGraph(S)
    g.add_node("a", lambda s: {"x": interrupt("a?")})
    g.add_node("b", lambda s: {"x": interrupt("b?")})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    graph = g.compile(checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": "1"}}
    pending = sorted(i.id for i in graph.invoke({"x": 0}, cfg)["__interrupt__"])
    with pytest.raises(UnknownInterruptError) as info:
        graph.invoke(Command(resume="one value"), cfg)
    assert isinstance(info.value, AmbiguousResumeError) and isinstance(info.value, RuntimeError)
    assert info.value.reason == "ambiguous" and list(info.value.pending_ids) == pending
