"""``stream_mode="debug"`` (and ``tasks`` / ``checkpoints`` / ``updates`` / ``values``) event
shapes and order, compared event by event with LangGraph 1.2 running the same graph: an
interrupted task's ``task_result`` has ``result == {}`` and its interrupts as dicts and comes
after the interrupt's ``values``; no ``checkpoint`` events without a checkpointer; subgraph
tasks carry their checkpoint namespace; the run's metadata and tags ride on ``task`` events;
a key written twice by one task is reported per write. Ids and timestamps are masked."""

from __future__ import annotations

import importlib
import operator
from typing import Annotated, Any, TypedDict

import pytest

_MASKED = ("id", "timestamp", "checkpoint_id", "checkpoint_map", "parents")


def _mask(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: "<id>" if k in _MASKED else _mask(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_mask(v) for v in x)
    if isinstance(x, BaseException):
        return f"{type(x).__name__}({x})"
    if type(x).__name__ == "Interrupt":
        return f"Interrupt({x.value!r})"
    if isinstance(x, str) and x.count("-") == 4 and ":" in x:
        return x.split(":")[0] + ":<task>"  # a namespace segment: node:task-id
    return x


class S(TypedDict):
    log: Annotated[list, operator.add]
    n: int


def _graph(pkg: str, scenario: str, checkpointer: bool) -> Any:
    g = importlib.import_module(pkg + ".graph")
    t = importlib.import_module(pkg + ".types")
    mem = importlib.import_module(pkg + ".checkpoint.memory")
    if scenario == "subgraph_interrupt":
        sub = g.StateGraph(S).add_node("ask", lambda s: {"log": [t.interrupt("q?")]}).add_edge(g.START, "ask").compile()
        b = g.StateGraph(S).add_node("a", lambda s: {"log": ["a"]}).add_node("sub", sub)
        b.add_edge(g.START, "a").add_edge("a", "sub")
    elif scenario == "subgraph":
        sub = g.StateGraph(S).add_node("inner", lambda s: {"log": ["i"]}).add_edge(g.START, "inner").compile()
        b = g.StateGraph(S).add_node("sub", sub).add_edge(g.START, "sub")
    elif scenario == "two_writes":
        b = g.StateGraph(S)
        b.add_node("a", lambda s: t.Command(update=[("log", ["x"]), ("log", ["y"])], goto="b"))
        b.add_node("b", lambda s: None)  # changes nothing: no values chunk after its step
        b.add_edge(g.START, "a")
    else:  # error

        def boom(state: S) -> Any:
            raise ValueError("bad")

        b = g.StateGraph(S).add_node("a", boom).add_edge(g.START, "a")
    return b.compile(checkpointer=mem.InMemorySaver() if checkpointer else None)


def _events(pkg: str, scenario: str, checkpointer: bool, subgraphs: bool, modes: list[str]) -> list[Any]:
    graph = _graph(pkg, scenario, checkpointer)
    cfg = {"configurable": {"thread_id": "1"}, "metadata": {"user": 1}, "tags": ["mine"]}
    out: list[Any] = []
    try:
        for chunk in graph.stream({"log": []}, cfg, stream_mode=modes, subgraphs=subgraphs):
            out.append(_mask(chunk))
    except ValueError as exc:
        out.append(("raised", str(exc)))
    if checkpointer and scenario == "subgraph_interrupt":
        t = importlib.import_module(pkg + ".types")
        out.append("-- resumed --")
        for chunk in graph.stream(t.Command(resume="yes"), cfg, stream_mode=modes, subgraphs=subgraphs):
            out.append(_mask(chunk))
    return out


@pytest.mark.parametrize("modes", [["debug", "values"], ["values", "updates", "tasks", "checkpoints"]], ids=["debug", "others"])
@pytest.mark.parametrize("subgraphs", [False, True], ids=["flat", "subgraphs"])
@pytest.mark.parametrize("checkpointer", [False, True], ids=["no-saver", "saver"])
@pytest.mark.parametrize("scenario", ["subgraph_interrupt", "subgraph", "two_writes", "error"])
def test_stream_events_as_langgraph(scenario: str, checkpointer: bool, subgraphs: bool, modes: list[str]) -> None:
    ours = _events("waypoint", scenario, checkpointer, subgraphs, modes)
    theirs = _events("langgraph", scenario, checkpointer, subgraphs, modes)
    assert ours == theirs


def test_debug_shapes_spelled_out() -> None:
    events = _events("waypoint", "subgraph_interrupt", True, False, ["debug", "values"])
    debug = [e[1] for e in events if isinstance(e, tuple) and e[0] == "debug"]
    interrupted = next(e["payload"] for e in debug if e["type"] == "task_result" and e["payload"]["name"] == "sub")
    assert interrupted["result"] == {} and interrupted["error"] is None
    assert interrupted["interrupts"] == [{"value": "q?", "id": "<id>", "response_schema": None}]
    first_run = events[: events.index("-- resumed --")]
    at = first_run.index(("debug", {"step": 2, "timestamp": "<id>", "type": "task_result", "payload": interrupted}))
    assert first_run[at - 1][0] == "values" and "__interrupt__" in first_run[at - 1][1]
    checkpoint = next(e["payload"] for e in debug if e["type"] == "checkpoint" and e["payload"]["next"] == ["sub"])
    assert checkpoint["tasks"][0]["state"] == {"configurable": {"thread_id": "1", "checkpoint_ns": "sub:<task>"}}
    assert checkpoint["metadata"] == {"source": "loop", "step": 1, "parents": "<id>"}
    task = next(e["payload"] for e in debug if e["type"] == "task")
    assert task["metadata"] == {"user": 1, "tags": ["mine"]}
    plain = _events("waypoint", "subgraph", False, True, ["debug"])
    assert plain and not [e for e in plain if e[2]["type"] == "checkpoint"]
