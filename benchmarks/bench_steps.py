"""Step overhead: a 10-node linear graph of trivial nodes, invoked repeatedly.

Each invoke runs 10 node supersteps; both libraries also run a ``__start__`` step that applies
the input, which is not counted. With a checkpointer every invoke uses a new thread and writes
12 checkpoints (input, ``__start__``, one per node) and 11 sets of pending writes. Default
durability (``async``) for both libraries. Figure: microseconds per superstep = wall time of the
invokes / (invokes x 10), median of 5 repeats of 1,000 invokes, the libraries alternating.
"""

from __future__ import annotations

import contextlib
import operator
from typing import Annotated, Any, TypedDict

from benchmarks import _harness as h
from benchmarks._libs import location, mod, saver

TITLE = "Step overhead (10-node linear graph, µs per superstep)"
KEYS = ("backend", "invokes", "waypoint", "langgraph", "ratio", "target", "met?")
TARGET = "<= 0.5"
NODES = 10


class State(TypedDict):
    count: int
    trail: Annotated[list[str], operator.add]


def _node(name: str) -> Any:
    def node(state: State) -> dict[str, Any]:
        return {"count": state["count"] + 1}

    node.__name__ = name
    return node


def build(lib: str, checkpointer: Any = None) -> Any:
    """The benchmark graph, written once against ``{lib}.graph``."""
    graph = mod(lib, "graph")
    builder = graph.StateGraph(State)
    previous = graph.START
    for i in range(NODES):
        name = f"n{i}"
        builder.add_node(name, _node(name))
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, graph.END)
    return builder.compile(checkpointer=checkpointer)


def _measure(lib: str, backend: str, invokes: int, rep: int) -> float:
    """Microseconds per superstep over ``invokes`` invokes on a fresh backend."""
    import time

    loc = location(backend, lib) if backend != "none" else contextlib.nullcontext(None)
    with loc as where:
        cm = saver(lib, where) if where is not None else contextlib.nullcontext(None)
        with cm as cp:
            app = build(lib, cp)
            cfg = (lambda i: {"configurable": {"thread_id": f"w{rep}-{i}"}}) if cp else (lambda i: None)
            for i in range(3):  # warm up caches and lazily created statements
                app.invoke({"count": 0, "trail": []}, cfg(-1 - i))
            start = time.perf_counter()
            for i in range(invokes):
                out = app.invoke({"count": 0, "trail": []}, cfg(i))
            elapsed = time.perf_counter() - start
            assert out["count"] == NODES, out
    return elapsed / (invokes * NODES) * 1e6


def run(quick: bool = False) -> list[dict[str, Any]]:
    invokes = 5 if quick else 1000
    rows = []
    for backend in ("none", "memory", "sqlite", "postgres"):
        samples = h.alternate(
            {lib: (lambda rep, lib=lib: _measure(lib, backend, invokes, rep)) for lib in h.LIBS},
            repeats=h.MIN_REPEATS,
        )
        rows.append(
            {
                "backend": backend if backend != "none" else "no checkpointer",
                "invokes": invokes,
                **h.compare(h.median(samples["waypoint"]), h.median(samples["langgraph"]), TARGET),
            }
        )
    return rows
