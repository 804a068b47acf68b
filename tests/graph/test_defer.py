"""Deferred nodes (``add_node(..., defer=True)``), side by side with LangGraph 1.2."""

import operator
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import pytest

import langgraph.checkpoint.memory as lg_memory
import langgraph.graph as lg_graph
import langgraph.types as lg_types

import waypoint.graph as wp_graph
import waypoint.types as wp_types
from waypoint.checkpoint.memory import InMemorySaver
from waypoint.channels import LastValueAfterFinish, NamedBarrierValueAfterFinish

from tests.hitl.conftest import LOOP, Face, config, face, saver  # noqa: F401  (fixtures)

WP = SimpleNamespace(graph=wp_graph, types=wp_types, saver=InMemorySaver)
LG = SimpleNamespace(graph=lg_graph, types=lg_types, saver=lg_memory.InMemorySaver)


class S(TypedDict):
    log: Annotated[list, operator.add]


def _node(tag: str) -> Any:
    return lambda s: {"log": [tag]}


def collect(s: S) -> dict:
    return {"log": ["collect:" + ",".join(sorted(s["log"]))]}


def uneven_branches(lib: Any, *, fan_in: bool) -> Any:
    """A short branch and a longer one; the deferred node waits for both to finish."""
    b = lib.graph.StateGraph(S)
    b.add_node("a", _node("a")).add_node("b1", _node("b1")).add_node("b2", _node("b2"))
    b.add_node("collect", collect, defer=True)
    b.add_edge(lib.graph.START, "a").add_edge(lib.graph.START, "b1").add_edge("b1", "b2")
    if fan_in:
        b.add_edge(["a", "b2"], "collect")
    else:
        b.add_edge("a", "collect").add_edge("b2", "collect")
    return b


def steps(graph: Any, input: Any, cfg: Any = None) -> list[list[str]]:
    """Names of the tasks of each step, in step order (sorted within a step)."""
    out: dict[int, list[str]] = {}
    for ev in graph.stream(input, cfg, stream_mode="debug"):
        if ev["type"] == "task":
            out.setdefault(ev["step"], []).append(ev["payload"]["name"])
    return [sorted(v) for _, v in sorted(out.items())]


@pytest.mark.parametrize("fan_in", [False, True])
def test_deferred_node_runs_once_after_the_other_branches(fan_in: bool) -> None:
    results = []
    for lib in (WP, LG):
        graph = uneven_branches(lib, fan_in=fan_in).compile()
        results.append((graph.invoke({"log": []}), steps(graph, {"log": []})))
    assert results[0] == results[1]
    out, order = results[0]
    assert out["log"][-1] == "collect:a,b1,b2"
    assert order == [["a", "b1"], ["b2"], ["collect"]]


def test_map_reduce_with_sends_matches_langgraph() -> None:
    def build(lib: Any) -> Any:
        b = lib.graph.StateGraph(S)
        b.add_node("plan", _node("plan"))
        b.add_node("work", lambda arg: {"log": [f"w{arg}"]})
        b.add_node("reduce", collect, defer=True)
        b.add_edge(lib.graph.START, "plan")
        b.add_conditional_edges("plan", lambda s: [lib.types.Send("work", i) for i in range(3)])
        b.add_edge("work", "reduce")
        return b.compile()

    wp, lg = build(WP), build(LG)
    assert wp.invoke({"log": []}) == lg.invoke({"log": []})
    assert steps(wp, {"log": []}) == steps(lg, {"log": []}) == [["plan"], ["work"] * 3, ["reduce"]]


def test_sends_and_a_deferred_edge_from_one_node_run_in_one_step_as_langgraph() -> None:
    def build(lib: Any) -> Any:
        b = lib.graph.StateGraph(S)
        b.add_node("a", _node("a")).add_node("w", lambda arg: {"log": [f"w{arg}"]})
        b.add_node("collect", collect, defer=True)
        b.add_edge(lib.graph.START, "a").add_edge("a", "collect")
        b.add_conditional_edges("a", lambda s: [lib.types.Send("w", i) for i in range(2)])
        return b.compile()

    assert steps(build(WP), {"log": []}) == steps(build(LG), {"log": []}) == [["a"], ["collect", "w", "w"]]


def test_interrupt_before_a_deferred_node_then_resume() -> None:
    def run(lib: Any) -> Any:
        graph = uneven_branches(lib, fan_in=True).compile(checkpointer=lib.saver(), interrupt_before=["collect"])
        cfg = {"configurable": {"thread_id": "1"}}
        first = graph.invoke({"log": []}, cfg)
        nxt = graph.get_state(cfg).next
        return first, nxt, graph.invoke(None, cfg)

    assert run(WP) == run(LG)
    assert run(WP)[1] == ("collect",)


def test_after_finish_channels_round_trip_their_state() -> None:
    ch = LastValueAfterFinish(str, key="k")
    assert not ch.is_available() and ch.update(["x"]) and not ch.is_available()
    assert ch.finish() and ch.is_available() and not ch.finish()
    restored = ch.from_checkpoint(ch.checkpoint())
    assert restored.get() == "x" and restored.consume() and not restored.is_available()
    bar = NamedBarrierValueAfterFinish(str, {"a", "b"}, key="j")
    bar.update(["a"])
    assert not bar.finish()
    bar.update(["b"])
    assert bar.finish() and bar.is_available()
    again = bar.from_checkpoint(bar.checkpoint())
    assert again.is_available() and again.consume() and again.checkpoint() is not None


@LOOP
async def test_deferred_node_state_survives_every_saver(saver: Any, face: Face, config: dict) -> None:
    graph = uneven_branches(WP, fan_in=True).compile(checkpointer=saver, interrupt_before=["collect"])
    await face.invoke(graph, {"log": []}, config)
    snap = await face.get_state(graph, config)
    assert snap.next == ("collect",)  # the finished barrier was stored and restored
    out = await face.invoke(graph, None, config)
    assert out["log"][-1] == "collect:a,b1,b2"
    assert (await face.get_state(graph, config)).next == ()
