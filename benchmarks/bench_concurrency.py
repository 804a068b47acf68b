"""Concurrency: 4 processes x N threads writing checkpoints into one SQLite file and into one
PostgreSQL database.

Every thread opens its own saver (its own connection, as separate workers would) and invokes a
one-node graph (``bench_steps``' state; 3 checkpoints per invoke: input, ``__start__``, the node) on its own
``thread_id`` in a loop for ``DURATION`` seconds, counting invokes and the exceptions it sees.
All processes start together (they import, connect and warm up first, then meet at a barrier).
Figure: checkpoints per second over all writers (counted afterwards from the database through
the saver's ``list``), median of 5 runs, each on a fresh file or database, the libraries
alternating. ``errors``: exceptions raised by invokes across the 5 runs.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any

from benchmarks import _harness as h
from benchmarks._libs import location

TITLE = "Concurrency (4 processes x N threads, checkpoints per second, higher is better)"
KEYS = ("backend", "writers", "waypoint", "langgraph", "ratio", "target", "met?",
        "waypoint errors", "langgraph errors")
PROCESSES = 4


def _build(lib: str, checkpointer: Any) -> Any:
    from benchmarks._libs import mod
    from benchmarks.bench_steps import State

    graph = mod(lib, "graph")
    builder = graph.StateGraph(State)
    builder.add_node("n0", lambda s: {"count": s["count"] + 1})
    builder.add_edge(graph.START, "n0")
    builder.add_edge("n0", graph.END)
    return builder.compile(checkpointer=checkpointer)


def _writer(lib: str, where: Any, proc: int, thread: int, ready: Any, go: Any,
            duration: float, out: dict[str, Any]) -> None:
    from benchmarks._libs import Where, saver

    where = Where(*where)  # (backend, path, url): each thread gets its own connection
    invokes = errors = 0
    messages: list[str] = []
    try:
        with saver(lib, where) as cp:
            app = _build(lib, cp)
            cfg = {"configurable": {"thread_id": f"p{proc}-t{thread}"}}
            app.invoke({"count": 0, "trail": []}, {"configurable": {"thread_id": f"warm-p{proc}-t{thread}"}})
            ready.wait()
            go.wait()
            deadline = time.perf_counter() + duration
            while time.perf_counter() < deadline:
                try:
                    app.invoke({"count": 0, "trail": []}, cfg)
                    invokes += 1
                except Exception as exc:  # counted and reported, never fatal
                    errors += 1
                    if len(messages) < 3:
                        messages.append(f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        errors += 1
        messages.append(f"setup {type(exc).__name__}: {exc}")
        if not ready.broken:
            ready.abort()
    out.update(invokes=invokes, errors=errors, messages=messages)


_BARRIER: Any = None  # the pool's cross-process start barrier (one party per process)


def _init(barrier: Any) -> None:
    global _BARRIER
    _BARRIER = barrier


def _task(args: tuple[Any, ...]) -> dict[str, Any]:
    """One process's share of a run: ``threads`` writers started together with the others."""
    import threading

    lib, where, proc, threads, duration = args
    ready = threading.Barrier(threads + 1)
    go = threading.Event()
    outs: list[dict[str, Any]] = [dict() for _ in range(threads)]
    workers = [threading.Thread(target=_writer, args=(lib, where, proc, t, ready, go, duration, outs[t]))
               for t in range(threads)]
    for w in workers:
        w.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        pass
    _BARRIER.wait()
    start = time.perf_counter()
    go.set()
    for w in workers:
        w.join()
    return {"elapsed": time.perf_counter() - start, "outs": outs}


def _count_checkpoints(lib: str, where: Any) -> int:
    """Checkpoints of the measured threads (not the warm-up threads), read back from the database."""
    from benchmarks._libs import saver

    with saver(lib, where) as cp:
        return sum(1 for t in cp.list(None)
                   if not t.config["configurable"]["thread_id"].startswith("warm-"))


def _run_once(pool: Any, lib: str, backend: str, threads: int, duration: float
              ) -> tuple[float, int, list[str]]:
    from benchmarks._libs import saver

    with location(backend, f"conc_{lib}") as where:
        with saver(lib, where):  # create the schema once, as a deployment would
            pass
        spec = (where.backend, where.path, where.url)
        results = pool.map(_task, [(lib, spec, p, threads, duration) for p in range(PROCESSES)],
                           chunksize=1)
        elapsed = max(r["elapsed"] for r in results)
        flat = [o for r in results for o in r["outs"]]
        checkpoints = _count_checkpoints(lib, where)
        errors = sum(o.get("errors", 0) for o in flat)
        messages = [m for o in flat for m in o.get("messages", [])]
        return checkpoints / elapsed, errors, messages


def run(quick: bool = False) -> list[dict[str, Any]]:
    threads = 2 if quick else 4
    duration = 0.3 if quick else 5.0
    rows = []
    ctx = mp.get_context("spawn")
    with ctx.Pool(PROCESSES, initializer=_init, initargs=(ctx.Barrier(PROCESSES),)) as pool:
        for backend in ("sqlite", "postgres"):
            rows.append(_backend_row(pool, backend, threads, duration))
    return rows


def _backend_row(pool: Any, backend: str, threads: int, duration: float) -> dict[str, Any]:
    errors = {lib: 0 for lib in h.LIBS}
    messages: dict[str, list[str]] = {lib: [] for lib in h.LIBS}

    def once(lib: str) -> float:
        rate, errs, msgs = _run_once(pool, lib, backend, threads, duration)
        errors[lib] += errs
        messages[lib] += msgs
        return rate

    samples = h.alternate({lib: (lambda rep, lib=lib: once(lib)) for lib in h.LIBS})
    row = {"backend": backend, "writers": f"{PROCESSES} x {threads}",
           **h.compare(h.median(samples["waypoint"]), h.median(samples["langgraph"]), "")}
    row["waypoint errors"] = errors["waypoint"]
    row["langgraph errors"] = errors["langgraph"]
    first = [f"{lib}: {messages[lib][0]}" for lib in h.LIBS if messages[lib]]
    row["first error"] = " / ".join(first)[:300].replace("\n", " ").replace("|", "/")
    return row
