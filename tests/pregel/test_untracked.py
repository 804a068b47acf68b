"""``UntrackedValue``: shared during a run, never checkpointed; side by side with LangGraph."""

import asyncio
from typing import Annotated, Any, TypedDict

import pytest

import langgraph.channels as lg_channels
import langgraph.checkpoint.memory as lg_memory
import langgraph.graph as lg_graph

import waypoint.channels as wp_channels
import waypoint.checkpoint.memory as wp_memory
import waypoint.graph as wp_graph
from waypoint.errors import InvalidUpdateError

from tests.hitl.conftest import LOOP, Face, config, face, saver  # noqa: F401  (fixtures)


def build(graph_mod: Any, channels_mod: Any, checkpointer: Any) -> Any:
    class S(TypedDict):
        n: int
        scratch: Annotated[str, channels_mod.UntrackedValue]

    def a(s: S) -> dict:
        return {"scratch": f"tmp{s['n']}", "n": s["n"] + 1}

    def b(s: S) -> dict:
        return {"n": s["n"] * 10 + len(s.get("scratch", ""))}

    g = graph_mod.StateGraph(S).add_node("a", a).add_node("b", b)
    return g.add_edge(graph_mod.START, "a").add_edge("a", "b").compile(checkpointer=checkpointer)


def scenario(graph_mod: Any, channels_mod: Any, memory: Any) -> list[Any]:
    graph = build(graph_mod, channels_mod, memory.InMemorySaver())
    cfg = {"configurable": {"thread_id": "1"}}
    out = [list(graph.stream({"n": 1}, cfg, stream_mode=["values", "updates"]))]
    out.append(graph.get_state(cfg).values)
    out.append([s.values for s in graph.get_state_history(cfg)])
    out.append(graph.invoke({"n": 2, "scratch": "in"}, cfg))
    return out


def test_untracked_values_are_live_but_never_stored_as_langgraph() -> None:
    wp = scenario(wp_graph, wp_channels, wp_memory)
    assert wp == scenario(lg_graph, lg_channels, lg_memory)
    assert wp[1] == {"n": 24}  # not in the checkpoint


def test_guard_refuses_two_writes_in_one_step() -> None:
    ch = wp_channels.UntrackedValue(str, key="k")
    with pytest.raises(InvalidUpdateError, match="guard=False"):
        ch.update(["a", "b"])
    loose = wp_channels.UntrackedValue(str, guard=False)
    assert loose.update(["a", "b"]) and loose.get() == "b"
    assert loose.from_checkpoint("anything").is_available() is False


@LOOP
async def test_untracked_value_never_reaches_any_saver(saver: Any, face: Face, config: dict) -> None:
    graph = build(wp_graph, wp_channels, saver)
    out = await face.invoke(graph, {"n": 1}, config)
    assert out == {"n": 24, "scratch": "tmp1"}
    assert (await face.get_state(graph, config)).values == {"n": 24}
    if face.mode == "sync":
        tup = await asyncio.to_thread(saver.get_tuple, config)
    else:
        tup = await saver.aget_tuple(config)
    assert "scratch" not in tup.checkpoint["channel_values"]
