"""``RunControl``: a drain request stops a run at a step boundary (``GraphDrained``), with
its checkpoint saved for a later resume; side by side with LangGraph 1.2."""

import asyncio
import operator
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import pytest

import langgraph.checkpoint.memory as lg_memory
import langgraph.errors as lg_errors
import langgraph.graph as lg_graph
import langgraph.runtime as lg_runtime

import waypoint.checkpoint.memory as wp_memory
import waypoint.errors as wp_errors
import waypoint.graph as wp_graph
import waypoint.runtime as wp_runtime
from waypoint.errors import ConfigError

from tests.hitl.conftest import LOOP, Face, config, face, saver  # noqa: F401  (fixtures)

WP = SimpleNamespace(graph=wp_graph, runtime=wp_runtime, errors=wp_errors, memory=wp_memory)
LG = SimpleNamespace(graph=lg_graph, runtime=lg_runtime, errors=lg_errors, memory=lg_memory)


class S(TypedDict):
    log: Annotated[list, operator.add]


def build(lib: Any, checkpointer: Any, *, nested: bool) -> Any:
    def a(s: S, runtime: lib.runtime.Runtime) -> dict:
        runtime.control.request_drain("sigterm")
        return {"log": ["a"]}

    def b(s: S) -> dict:
        return {"log": ["b"]}

    inner = lib.graph.StateGraph(S).add_node("a", a).add_node("b", b)
    inner.add_edge(lib.graph.START, "a").add_edge("a", "b")
    if not nested:
        return inner.compile(checkpointer=checkpointer)
    outer = lib.graph.StateGraph(S).add_node("sub", inner.compile()).add_node("c", b)
    outer.add_edge(lib.graph.START, "sub").add_edge("sub", "c")
    return outer.compile(checkpointer=checkpointer)


def scenario(lib: Any, nested: bool, use_async: bool) -> list[Any]:
    graph = build(lib, lib.memory.InMemorySaver(), nested=nested)
    cfg = {"configurable": {"thread_id": "1"}}
    seen: list[Any] = []
    ctl = lib.runtime.RunControl()

    async def arun(inp: Any, **kw: Any) -> Any:
        return await graph.ainvoke(inp, cfg, **kw)

    def run(inp: Any, **kw: Any) -> Any:
        return asyncio.run(arun(inp, **kw)) if use_async else graph.invoke(inp, cfg, **kw)

    try:
        run({"log": []}, control=ctl)
    except lib.errors.GraphDrained as exc:
        seen.append(("drained", exc.reason, ctl.drain_requested, ctl.drain_reason))
    snap = graph.get_state(cfg)
    seen.append((snap.next, snap.values, [(t.name, t.error) for t in snap.tasks]))
    seen.append(run(None))  # a fresh run has a fresh control
    return seen


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "subgraph"])
@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_drain_stops_at_a_step_boundary_and_resumes_as_langgraph(nested: bool, use_async: bool) -> None:
    wp = scenario(WP, nested, use_async)
    assert wp == scenario(LG, nested, use_async)
    assert wp[0] == ("drained", "sigterm", True, "sigterm")
    assert wp[-1]["log"][-1] == "b"


def test_drain_requested_before_the_run_runs_no_node() -> None:
    ran = []
    b = wp_graph.StateGraph(S).add_node("n", lambda s: ran.append(1) or {"log": ["n"]})
    graph = b.add_edge(wp_graph.START, "n").compile(checkpointer=wp_memory.InMemorySaver())
    ctl = wp_runtime.RunControl()
    ctl.request_drain()
    cfg = {"configurable": {"thread_id": "t"}}
    with pytest.raises(wp_errors.GraphDrained, match="shutdown"):
        graph.invoke({"log": []}, cfg, control=ctl)
    assert ran == []
    assert graph.invoke(None, cfg) == {"log": ["n"]}


def test_nodes_always_see_a_control_and_bad_control_is_named() -> None:
    seen = []

    def n(s: S, runtime: wp_runtime.Runtime) -> dict:
        seen.append((type(runtime.control).__name__, runtime.drain_requested))
        return {}

    graph = wp_graph.StateGraph(S).add_node("n", n).add_edge(wp_graph.START, "n").compile()
    graph.invoke({"log": []})
    assert seen == [("RunControl", False)]
    with pytest.raises(ConfigError, match="RunControl"):
        graph.invoke({"log": []}, control="stop")


@LOOP
async def test_drained_run_resumes_on_every_saver(saver: Any, face: Face, config: dict) -> None:
    graph = build(WP, saver, nested=True)
    with pytest.raises(wp_errors.GraphDrained):
        await face.invoke(graph, {"log": []}, config, control=wp_runtime.RunControl())
    assert (await face.get_state(graph, config)).next == ("sub",)
    out = await face.invoke(graph, None, config)
    assert out == {"log": ["a", "b", "b"]}
