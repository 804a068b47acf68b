"""Scale: costs as the data grows, waypoint and LangGraph side by side on the same data.

Threads (PostgreSQL): N threads of a 3-node graph (1,000 / 5,000 / 20,000; quick: 40 / 160).
One real thread is run by each library's own graph, then cloned N times by SQL inside its own
database (thread ids ``c000001``...; checkpoint ids get the clone number as their first 8 hex
digits, so clones are ordered like threads written one after another; every tenth clone has
``user=u3`` in its metadata), then ``VACUUM ANALYZE``. Figures in milliseconds, median of 9
alternating repeats: the thread listing (waypoint: the ``waypoint threads`` code path for a
50-thread page; LangGraph, which has no thread listing: ``list(None)`` read until 50 distinct
threads are seen), ``list(None, limit=10)``, the same with ``filter={"user": "u3"}``,
``get_tuple`` of a random thread's latest checkpoint, waypoint's ``stats`` (no LangGraph
counterpart), and the bytes of the database's tables per thread.
Big state (SQLite, PostgreSQL): ``get_state`` of a thread whose state is one 10 MB float64
numpy array (quick: 1 MB), milliseconds.
Store without vectors (PostgreSQL): 10,000 and 200,000 items (quick: 500 / 1,500) over 100
namespaces: ``put`` (batches of 500, items per second), ``get`` (random keys), filtered
``search`` (10% of a namespace's items match) and ``list_namespaces``, operations per second.
In-memory saver: Python heap (``tracemalloc``) per 1,000 checkpoints of chats of 50 messages
(25 turns of one human and one AI message of LangChain's message classes), MB.
``exponent`` rows: the least-squares growth exponent of each figure across the sizes (0: flat,
1: linear in the number of threads or items).
"""

from __future__ import annotations

import contextlib
import operator
import random
import time
import tracemalloc
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

from benchmarks import _harness as h
from benchmarks._libs import location, mod, saver

TITLE = "Scale (threads on PostgreSQL, big states, store without vectors, in-memory saver size)"
KEYS = ("section", "backend", "size", "figure", "waypoint", "langgraph", "ratio", "target", "met?")

REPEATS = 9
LG_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
WP_SKIP = ("waypoint_threads", "waypoint_leases", "waypoint_checkpoint_migrations")


# --- threads -----------------------------------------------------------------------------------


class Small(TypedDict):
    count: int
    trail: Annotated[list[str], operator.add]


def _step(name: str) -> Any:
    return lambda s: {"count": s["count"] + 1, "trail": [name]}


def _three(lib: str, checkpointer: Any) -> Any:
    g = mod(lib, "graph")
    builder = g.StateGraph(Small)
    previous = g.START
    for name in ("a", "b", "c"):
        builder.add_node(name, _step(name))
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, g.END)
    return builder.compile(checkpointer=checkpointer)


def _tables(conn: Any, lib: str) -> list[str]:
    if lib == "langgraph":
        return list(LG_TABLES)
    rows = conn.execute(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'thread_id' "
        "AND table_schema = current_schema() AND table_name LIKE 'waypoint!_%' ESCAPE '!'"
    ).fetchall()
    names = sorted({r[0] for r in rows} - set(WP_SKIP))
    return sorted(names, key=lambda n: n != "waypoint_checkpoints")


def _clone(url: str, lib: str, start: int, stop: int) -> None:
    """Threads ``start..stop-1`` as copies of thread ``seed`` (see the module's text)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in _tables(conn, lib):
            cols = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND table_schema = current_schema() ORDER BY ordinal_position", (table,)
            ).fetchall()]
            exprs = []
            for c in cols:
                if c == "thread_id":
                    exprs.append("'c' || lpad(n::text, 6, '0')")
                elif c in ("checkpoint_id", "parent_checkpoint_id"):
                    exprs.append(f"lpad(to_hex(n), 8, '0') || substr({c}, 9)")
                elif c == "metadata" and table.endswith("checkpoints"):
                    exprs.append("CASE WHEN n %% 10 = 3 THEN metadata || '{\"user\": \"u3\"}'::jsonb ELSE metadata END")
                else:
                    exprs.append(c)
            for lo in range(start, stop, 5000):
                hi = min(stop, lo + 5000)
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(exprs)} FROM {table}, "
                    f"generate_series(%s::int, %s::int) AS n WHERE thread_id = 'seed'",
                    (lo, hi - 1),
                )
        conn.execute("VACUUM ANALYZE")


def _listing(lib: str, cp: Any) -> int:
    if lib == "waypoint":
        from waypoint.cli import _listing as listing

        rows, _ = listing.threads(cp, limit=50)
        return len(rows)
    seen: set[str] = set()
    for t in cp.list(None):
        seen.add(t.config["configurable"]["thread_id"])
        if len(seen) == 50:
            break
    return len(seen)


def _threads(sizes: list[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    series: dict[str, dict[str, list[float]]] = {}
    with contextlib.ExitStack() as stack:
        where = {lib: stack.enter_context(location("postgres", lib)) for lib in h.LIBS}
        savers = {lib: stack.enter_context(saver(lib, where[lib])) for lib in h.LIBS}
        for lib in h.LIBS:
            _three(lib, savers[lib]).invoke({"count": 0, "trail": []}, {"configurable": {"thread_id": "seed"}})
        done = 0
        for n in sizes:
            for lib in h.LIBS:
                _clone(where[lib].url, lib, done, n)
            done = n
            pick = [f"c{random.Random(i).randrange(n):06d}" for i in range(20)]

            def figures(lib: str) -> dict[str, Any]:
                cp = savers[lib]
                return {
                    "thread listing (50), ms": lambda rep: h.timed(lambda: _listing(lib, cp))[0] * 1e3,
                    "list(None, limit=10), ms": lambda rep: h.timed(lambda: list(cp.list(None, limit=10)))[0] * 1e3,
                    "list(None, limit=10, filter), ms": lambda rep: h.timed(
                        lambda: list(cp.list(None, limit=10, filter={"user": "u3"})))[0] * 1e3,
                    "get_tuple, ms": lambda rep: h.timed(
                        lambda: cp.get_tuple({"configurable": {"thread_id": pick[rep % len(pick)], "checkpoint_ns": ""}}))[0] * 1e3,
                }

            per = {lib: figures(lib) for lib in h.LIBS}
            for figure in per["waypoint"]:
                samples = h.alternate({lib: per[lib][figure] for lib in h.LIBS}, repeats=REPEATS)
                wp, lg = h.median(samples["waypoint"]), h.median(samples["langgraph"])
                series.setdefault(figure, {"waypoint": [], "langgraph": []})
                series[figure]["waypoint"].append(wp)
                series[figure]["langgraph"].append(lg)
                rows.append({"section": "threads", "backend": "postgres", "size": n, "figure": figure, **h.compare(wp, lg)})
            from waypoint.cli import _listing as listing

            stat = h.median([h.timed(lambda: listing.stats(savers["waypoint"]))[0] * 1e3 for _ in range(REPEATS)])
            series.setdefault("stats, ms", {"waypoint": [], "langgraph": []})["waypoint"].append(stat)
            rows.append({"section": "threads", "backend": "postgres", "size": n, "figure": "stats, ms", **h.compare(stat, None)})
            sizes_b = {lib: h.pg_tables_bytes(where[lib].url) / (n + 1) for lib in h.LIBS}
            series.setdefault("bytes per thread", {"waypoint": [], "langgraph": []})
            for lib in h.LIBS:
                series["bytes per thread"][lib].append(sizes_b[lib])
            rows.append({"section": "threads", "backend": "postgres", "size": n, "figure": "bytes per thread",
                         **h.compare(round(sizes_b["waypoint"]), round(sizes_b["langgraph"]))})
    rows.extend(_exponents("threads", "postgres", sizes, series))
    return rows


def _exponents(section: str, backend: str, sizes: list[int], series: dict[str, dict[str, list[float]]]) -> list[dict[str, Any]]:
    out = []
    for figure, by_lib in series.items():
        wp = h.fit_exponent([float(s) for s in sizes], by_lib["waypoint"]) if by_lib["waypoint"] else None
        lg = h.fit_exponent([float(s) for s in sizes], by_lib["langgraph"]) if by_lib["langgraph"] else None
        out.append({"section": section, "backend": backend, "size": "exponent", "figure": figure,
                    "waypoint": None if wp is None else round(wp, 2), "langgraph": None if lg is None else round(lg, 2),
                    "ratio": None, "target": "", "met?": ""})
    return out


# --- a 10 MB array -----------------------------------------------------------------------------


def _big_state(megabytes: int) -> list[dict[str, Any]]:
    import numpy as np

    class Big(TypedDict):
        arr: Any

    array = np.random.default_rng(3).standard_normal(megabytes * 1024 * 1024 // 8)
    rows = []
    for backend in ("sqlite", "postgres"):
        with contextlib.ExitStack() as stack:
            apps = {}
            for lib in h.LIBS:
                where = stack.enter_context(location(backend, f"big-{lib}"))
                cp = stack.enter_context(saver(lib, where))
                g = mod(lib, "graph")
                builder = g.StateGraph(Big)
                builder.add_node("scale", lambda s: {"arr": s["arr"] * 2})
                builder.add_edge(g.START, "scale")
                builder.add_edge("scale", g.END)
                app = builder.compile(checkpointer=cp)
                app.invoke({"arr": array}, {"configurable": {"thread_id": "big"}})
                apps[lib] = app
            config = {"configurable": {"thread_id": "big"}}
            for lib, app in apps.items():
                assert app.get_state(config).values["arr"].shape == array.shape
            samples = h.alternate({lib: (lambda rep, a=app: h.timed(lambda: a.get_state(config))[0] * 1e3) for lib, app in apps.items()})
            rows.append({"section": "big state", "backend": backend, "size": f"{megabytes} MB", "figure": "get_state, ms",
                         **h.compare(h.median(samples["waypoint"]), h.median(samples["langgraph"]), "<= 1")})
    return rows


# --- store without vectors ---------------------------------------------------------------------

NAMESPACES = 100


@contextlib.contextmanager
def _stores() -> Iterator[dict[str, Any]]:
    with contextlib.ExitStack() as stack:
        out = {}
        for lib in h.LIBS:
            url = stack.enter_context(h.fresh_pg_database(prefix="wpscale"))
            store = stack.enter_context(mod(lib, "store.postgres").PostgresStore.from_conn_string(url))
            store.setup()
            out[lib] = store
        yield out


def _store(sizes: list[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    series: dict[str, dict[str, list[float]]] = {}
    for n in sizes:
        with _stores() as stores:
            put_rates: dict[str, list[float]] = {lib: [] for lib in h.LIBS}
            for lo in range(0, n, 500):
                for lib in (h.LIBS if (lo // 500) % 2 == 0 else h.LIBS[::-1]):
                    PutOp = mod(lib, "store.base").PutOp
                    ops = [PutOp((f"ns{i % NAMESPACES}", "items"), f"k{i}", {"n": i, "kind": f"k{i % 10}", "text": f"item {i}"})
                           for i in range(lo, min(n, lo + 500))]
                    seconds, _ = h.timed(lambda: stores[lib].batch(ops))
                    put_rates[lib].append(len(ops) / seconds)
            rng = random.Random(5)
            keys = [rng.randrange(n) for _ in range(200)]

            def ops_of(lib: str) -> dict[str, Any]:
                store = stores[lib]

                def per_second(fn: Any, count: int) -> Any:
                    return lambda rep: count / h.timed(lambda: [fn(i) for i in range(count)])[0]

                return {
                    "get, ops/s": per_second(lambda i: store.get((f"ns{keys[i] % NAMESPACES}", "items"), f"k{keys[i]}"), 200),
                    "filtered search, ops/s": per_second(
                        lambda i: store.search((f"ns{i % NAMESPACES}",), filter={"kind": f"k{i % 10}"}, limit=10), 50),
                    "list_namespaces, ops/s": per_second(lambda i: store.list_namespaces(limit=100), 20),
                }

            figures = {"put, items/s": {lib: h.median(put_rates[lib]) for lib in h.LIBS}}
            per = {lib: ops_of(lib) for lib in h.LIBS}
            for figure in per["waypoint"]:
                samples = h.alternate({lib: per[lib][figure] for lib in h.LIBS})
                figures[figure] = {lib: h.median(samples[lib]) for lib in h.LIBS}
            for figure, by_lib in figures.items():
                series.setdefault(figure, {"waypoint": [], "langgraph": []})
                for lib in h.LIBS:
                    series[figure][lib].append(by_lib[lib])
                rows.append({"section": "store", "backend": "postgres", "size": n, "figure": figure,
                             **h.compare(by_lib["waypoint"], by_lib["langgraph"], ">= 1")})
    rows.extend(_exponents("store", "postgres", sizes, series))
    return rows


# --- in-memory saver size ----------------------------------------------------------------------


def _memory(checkpoints: int) -> list[dict[str, Any]]:
    from langchain_core.messages import AIMessage, HumanMessage

    out = {}
    for lib in h.LIBS:
        g = mod(lib, "graph")

        Chat = TypedDict("Chat", {"messages": Annotated[list, g.add_messages]})  # type: ignore[misc]
        builder = g.StateGraph(Chat)
        builder.add_node("reply", lambda s: {"messages": [AIMessage(f"answer {len(s['messages'])}: " + "x" * 80)]})
        builder.add_edge(g.START, "reply")
        builder.add_edge("reply", g.END)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        cp = mod(lib, "checkpoint.memory").InMemorySaver()
        app = builder.compile(checkpointer=cp)
        thread = 0
        while sum(1 for _ in cp.list(None)) < checkpoints:
            config = {"configurable": {"thread_id": f"chat-{thread}"}}
            for turn in range(25):
                app.invoke({"messages": [HumanMessage(f"question {turn}: " + "y" * 80)]}, config)
            thread += 1
        count = sum(1 for _ in cp.list(None))
        held = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        out[lib] = held / count * 1000 / 1e6
        del app, cp
    return [{"section": "memory saver", "backend": "memory", "size": f"{checkpoints} checkpoints",
             "figure": "MB per 1,000 checkpoints", **h.compare(out["waypoint"], out["langgraph"], "<= 1")}]


def run(quick: bool = False) -> list[dict[str, Any]]:
    rows = _threads([40, 160] if quick else [1000, 5000, 20000])
    rows += _big_state(1 if quick else 10)
    rows += _store([500, 1500] if quick else [10000, 200000])
    rows += _memory(100 if quick else 1000)
    return rows


__all__ = ["KEYS", "TITLE", "run"]
