"""``CompiledStateGraph.batch`` / ``abatch``, side by side with LangGraph 1.2."""

import asyncio
from typing import Any, TypedDict

import langgraph.checkpoint.memory as lg_memory
import langgraph.graph as lg_graph

import waypoint.checkpoint.memory as wp_memory
import waypoint.graph as wp_graph


class S(TypedDict):
    x: int


def build(graph_mod: Any, memory: Any) -> Any:
    def node(s: S) -> dict:
        if s["x"] < 0:
            raise ValueError("negative")
        return {"x": s["x"] * 10}

    b = graph_mod.StateGraph(S).add_node("n", node).add_edge(graph_mod.START, "n")
    return b.compile(checkpointer=memory.InMemorySaver())


def run(graph_mod: Any, memory: Any) -> list[Any]:
    g = build(graph_mod, memory)
    cfgs = [{"configurable": {"thread_id": str(i)}} for i in range(3)]
    out: list[Any] = [g.batch([{"x": 1}, {"x": 2}, {"x": 3}], cfgs)]
    out.append(asyncio.run(g.abatch([{"x": 4}, {"x": 5}, {"x": 6}], cfgs)))
    mixed = g.batch([{"x": 1}, {"x": -1}], cfgs[:2], return_exceptions=True)
    out.append([repr(r) if isinstance(r, Exception) else r for r in mixed])
    amixed = asyncio.run(g.abatch([{"x": -2}, {"x": 2}], cfgs[1:], return_exceptions=True))
    out.append([repr(r) if isinstance(r, Exception) else r for r in amixed])
    out.append([g.get_state(c).values for c in cfgs])
    return out


def test_batch_and_abatch_as_langgraph() -> None:
    wp = run(wp_graph, wp_memory)
    assert wp == run(lg_graph, lg_memory)
    assert wp[0] == [{"x": 10}, {"x": 20}, {"x": 30}]
