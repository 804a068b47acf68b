"""What one writer per thread costs: waypoint runs with their thread's lease (the default)
against the same runs with ``compile(lease=False)``.

The graph is the step-overhead graph (10 trivial nodes in a line, default durability); every
invoke uses a new thread. A leased run adds one statement when it starts (acquire), one when it
ends (release), and renews the lease inside each write transaction it already makes. Figure:
microseconds per run (invoke), median of 5 repeats of 300 invokes, the two settings
alternating; ``cost`` is the difference, ``per step`` that cost over the run's 10 supersteps.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks import _harness as h
from benchmarks._libs import location, saver
from benchmarks.bench_steps import NODES, State, _node

TITLE = "Lease cost per run (waypoint, 10-node graph, µs per invoke)"
KEYS = ("backend", "invokes", "leased", "lease=False", "cost", "per step")


def _build(checkpointer: Any, lease: bool) -> Any:
    from waypoint.graph import END, START, StateGraph

    builder = StateGraph(State)
    previous = START
    for i in range(NODES):
        builder.add_node(f"n{i}", _node(f"n{i}"))
        builder.add_edge(previous, f"n{i}")
        previous = f"n{i}"
    builder.add_edge(previous, END)
    return builder.compile(checkpointer=checkpointer, lease=None if lease else False)


def _measure(backend: str, lease: bool, invokes: int, rep: int) -> float:
    with location(backend, "lease" if lease else "plain") as where, saver("waypoint", where) as cp:
        app = _build(cp, lease)
        tag = f"{'l' if lease else 'p'}{rep}"
        for i in range(3):  # warm up
            app.invoke({"count": 0, "trail": []}, {"configurable": {"thread_id": f"{tag}-w{i}"}})
        start = time.perf_counter()
        for i in range(invokes):
            out = app.invoke({"count": 0, "trail": []}, {"configurable": {"thread_id": f"{tag}-{i}"}})
        elapsed = time.perf_counter() - start
        assert out["count"] == NODES, out
    return elapsed / invokes * 1e6


def run(quick: bool = False) -> list[dict[str, Any]]:
    invokes = 5 if quick else 300
    rows = []
    for backend in ("memory", "sqlite", "postgres"):
        samples = h.alternate(
            {
                "leased": lambda rep, b=backend: _measure(b, True, invokes, rep),
                "plain": lambda rep, b=backend: _measure(b, False, invokes, rep),
            },
            repeats=h.MIN_REPEATS,
        )
        leased, plain = h.median(samples["leased"]), h.median(samples["plain"])
        rows.append({
            "backend": backend,
            "invokes": invokes,
            "leased": round(leased, 1),
            "lease=False": round(plain, 1),
            "cost": round(leased - plain, 1),
            "per step": round((leased - plain) / NODES, 1),
        })
    return rows
