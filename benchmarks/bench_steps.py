"""Step overhead: a 10-node linear graph of trivial nodes, invoked repeatedly.

Each invoke runs 10 node supersteps; both libraries also run a ``__start__`` step that applies
the input, which is not counted. With a checkpointer every invoke uses a new thread and writes
12 checkpoints (input, ``__start__``, one per node) and 11 sets of pending writes. Default
durability (``async``) for both libraries. Figure: microseconds per superstep = wall time of the
invokes / (invokes x 10), median of 5 repeats of 1,000 invokes, the libraries alternating.
Rows "+ callbacks" pass a LangChain callback handler (a ``BaseCallbackHandler`` subclass
counting ``on_chain_start``/``on_chain_end``) in each invoke's config to both libraries; each
run checks that the handler saw the graph's and every node's start and end.
"""

from __future__ import annotations

import contextlib
import operator
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import BaseCallbackHandler

from benchmarks import _harness as h
from benchmarks._libs import location, mod, saver

TITLE = "Step overhead (10-node linear graph, µs per superstep)"
KEYS = ("backend", "invokes", "waypoint", "langgraph", "ratio", "target", "met?")
TARGET = "<= 0.5"
NODES = 10


class State(TypedDict):
    count: int
    trail: Annotated[list[str], operator.add]


class ChainCounter(BaseCallbackHandler):
    """Counts chain starts and ends (the graph and each node are chains)."""

    def __init__(self) -> None:
        self.starts = self.ends = 0

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.starts += 1

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        self.ends += 1


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


def _measure(lib: str, backend: str, invokes: int, rep: int, callbacks: bool = False) -> float:
    """Microseconds per superstep over ``invokes`` invokes on a fresh backend (with a
    callback handler in every invoke's config when ``callbacks``)."""
    import time

    counter = ChainCounter()
    loc = location(backend, lib) if backend != "none" else contextlib.nullcontext(None)
    with loc as where:
        cm = saver(lib, where) if where is not None else contextlib.nullcontext(None)
        with cm as cp:
            app = build(lib, cp)

            def cfg(i: int) -> dict[str, Any] | None:
                out: dict[str, Any] = {"configurable": {"thread_id": f"w{rep}-{i}"}} if cp else {}
                if callbacks:
                    out["callbacks"] = [counter]
                return out or None

            for i in range(3):  # warm up caches and lazily created statements
                app.invoke({"count": 0, "trail": []}, cfg(-1 - i))
            start = time.perf_counter()
            for i in range(invokes):
                out = app.invoke({"count": 0, "trail": []}, cfg(i))
            elapsed = time.perf_counter() - start
            assert out["count"] == NODES, out
    if callbacks:  # the graph and each of its nodes, at least, per invoke
        assert counter.starts == counter.ends >= (invokes + 3) * (NODES + 1), (lib, counter.starts, counter.ends)
    return elapsed / (invokes * NODES) * 1e6


def run(quick: bool = False) -> list[dict[str, Any]]:
    invokes = 5 if quick else 1000
    rows = []
    runs = [(b, False) for b in ("none", "memory", "sqlite", "postgres")] + [("none", True), ("memory", True)]
    for backend, callbacks in runs:
        samples = h.alternate(
            {lib: (lambda rep, lib=lib: _measure(lib, backend, invokes, rep, callbacks)) for lib in h.LIBS},
            repeats=h.MIN_REPEATS,
        )
        label = backend if backend != "none" else "no checkpointer"
        rows.append(
            {
                "backend": label + (" + callbacks" if callbacks else ""),
                "invokes": invokes,
                **h.compare(h.median(samples["waypoint"]), h.median(samples["langgraph"]), TARGET),
            }
        )
    return rows
