"""The same graph built with waypoint and with LangGraph, to compare their observable behaviour.

A scenario is a function of ``lib`` (one of ``WP`` / ``LG`` below) building a graph from that
library's ``StateGraph``, ``START``, ``interrupt``, ``Command``...; a test runs the LangGraph
build on LangGraph's in-memory saver as the reference and the waypoint build on every saver.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import langgraph.checkpoint.memory as lg_memory
import langgraph.graph as lg_graph
import langgraph.types as lg_types

import waypoint.checkpoint.memory as wp_memory
import waypoint.graph as wp_graph
import waypoint.types as wp_types

def _library(name: str, graph: Any, types: Any, memory: Any) -> SimpleNamespace:
    """The names a scenario builds with, taken from one library's modules."""
    return SimpleNamespace(
        name=name,
        StateGraph=graph.StateGraph,
        START=graph.START,
        END=graph.END,
        interrupt=types.interrupt,
        Command=types.Command,
        Send=types.Send,
        InMemorySaver=memory.InMemorySaver,
    )


WP = _library("waypoint", wp_graph, wp_types, wp_memory)
LG = _library("langgraph", lg_graph, lg_types, lg_memory)


def ns_shape(ns: Any) -> tuple[str, ...]:
    """A checkpoint namespace (string or stream tuple) with its task ids dropped:
    ``"mid:1a2b|inner:3c4d"`` -> ``("mid", "inner")``."""
    parts = ns.split("|") if isinstance(ns, str) else list(ns)
    return tuple(p.split(":")[0] for p in parts if p)


def snapshot_shape(snap: Any) -> Any:
    """What a StateSnapshot shows, without ids and timestamps (recursing into subgraph states)."""
    if snap is None:
        return None
    if isinstance(snap, dict):  # a config addressing a subgraph
        return ("config", ns_shape(snap["configurable"]["checkpoint_ns"]))
    return {
        "values": snap.values,
        "next": snap.next,
        "ns": ns_shape(snap.config["configurable"].get("checkpoint_ns", "")),
        "source": (snap.metadata or {}).get("source"),
        "step": (snap.metadata or {}).get("step"),
        "tasks": [
            (t.name, [i.value for i in t.interrupts], t.result, snapshot_shape(t.state))
            for t in snap.tasks
        ],
        "interrupts": [i.value for i in snap.interrupts],
    }
