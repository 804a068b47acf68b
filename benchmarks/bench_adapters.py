"""waypoint storage under LangGraph's runtime: one chat thread through waypoint.langgraph's savers
vs LangGraph's own.

Both sides run LangGraph itself (``langgraph.graph.StateGraph`` with ``MessagesState``, the chat
graph of the growth workload: one node appending an assistant message of ~200 characters per
user message of ~200). Only the checkpointer differs: ``waypoint.langgraph.SqliteSaver`` /
``PostgresSaver`` (waypoint's backends and schemas behind LangGraph's ``BaseCheckpointSaver``;
the adapter recognises that the message list only grew and stores the new messages in the item
log) vs ``langgraph.checkpoint.sqlite.SqliteSaver`` / ``langgraph.checkpoint.postgres.PostgresSaver``
(the whole list at every version). The two threads grow in lockstep, order alternating per
block. Bytes: as in the growth workload (SQLite main file after a WAL checkpoint, PostgreSQL
relation sizes after VACUUM, net of the empty schema). Per-turn time: mean wall time of one
``invoke`` over the last 100 turns before the milestone, and over every turn of the run.
Growth exponent: least-squares slope of log(bytes) against log(turns).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from benchmarks import _harness as h
from benchmarks._libs import Where, location
from benchmarks.bench_growth import TAIL, Thread, _corpus, build

TITLE = "waypoint storage under LangGraph's runtime (chat thread, one saver swapped)"
KEYS = ("metric", "backend", "turns", "waypoint", "langgraph", "ratio", "target", "met?")

FULL_TURNS = (100, 300, 1000)
QUICK_TURNS = (30, 100)  # the test suite runs quick mode once: kept to seconds
BACKENDS = ("sqlite", "postgres")
SIDES = ("waypoint", "langgraph")  # waypoint: waypoint.langgraph's saver; both on LangGraph


@contextlib.contextmanager
def _saver(side: str, where: Where) -> Iterator[Any]:
    pkg = "waypoint.langgraph" if side == "waypoint" else None
    if where.backend == "sqlite":
        assert where.path is not None
        conn = sqlite3.connect(where.path, check_same_thread=False)
        where.conn = conn
        try:
            if pkg:
                from waypoint.langgraph import SqliteSaver as WSqlite

                s: Any = WSqlite(conn)
            else:
                from langgraph.checkpoint.sqlite import SqliteSaver as LSqlite

                s = LSqlite(conn)
            s.setup()
            yield s
        finally:
            conn.close()
    else:
        if pkg:
            from waypoint.langgraph import PostgresSaver as WPg

            cm: Any = WPg.from_conn_string(where.url)
        else:
            from langgraph.checkpoint.postgres import PostgresSaver as LPg

            cm = LPg.from_conn_string(where.url)
        with cm as s:
            s.setup()
            yield s


def measure(backend: str, milestones: tuple[int, ...]) -> list[dict[str, Any]]:
    """One dict per (side, milestone): bytes, last-100-turn and whole-run ms per turn."""
    questions, replies = _corpus(milestones[-1])
    out: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        threads: dict[str, Thread] = {}
        for side in SIDES:
            where = stack.enter_context(location(backend, side))
            cp = stack.enter_context(_saver(side, where))
            threads[side] = Thread(side, where, build("langgraph", cp, replies), questions)
        for block, target in enumerate(milestones):
            order = list(threads.values())
            for t in order[::-1] if block % 2 else order:
                t.grow(target)
            for t in order:
                tail = t.turn_seconds[-TAIL:]
                out.append({"side": t.variant, "backend": backend, "turns": target,
                            "bytes": t.stored_bytes(), "tail_ms": 1e3 * sum(tail) / len(tail),
                            "mean_ms": 1e3 * sum(t.turn_seconds) / len(t.turn_seconds)})
            for t in order:  # both read the same state back
                assert len(t.app.get_state(t.config).values["messages"]) == 2 * target
    return out


def rows_from(raw: list[dict[str, Any]], milestones: tuple[int, ...]) -> list[dict[str, Any]]:
    by = {(m["side"], m["backend"], m["turns"]): m for m in raw}
    last = milestones[-1]
    rows: list[dict[str, Any]] = []
    for backend in BACKENDS:
        for turns in milestones:
            rows.append({"metric": "bytes stored", "backend": backend, "turns": turns,
                         **h.compare(by[("waypoint", backend, turns)]["bytes"], by[("langgraph", backend, turns)]["bytes"],
                                     "<= 0.05" if turns == last else "")})
        exps = {s: h.fit_exponent(list(milestones), [by[(s, backend, t)]["bytes"] for t in milestones]) for s in SIDES}
        rows.append({"metric": "growth exponent (bytes vs turns)", "backend": backend,
                     "turns": f"{milestones[0]}..{last}", "waypoint": h._round(exps["waypoint"]),
                     "langgraph": h._round(exps["langgraph"]), "ratio": None,
                     "target": "waypoint <= 1.1", "met?": h.check(exps["waypoint"], "<= 1.1")})
        for turns in milestones:
            rows.append({"metric": f"ms per turn, last {TAIL} turns", "backend": backend, "turns": turns,
                         **h.compare(by[("waypoint", backend, turns)]["tail_ms"], by[("langgraph", backend, turns)]["tail_ms"],
                                     "<= 1.0" if turns == last else "")})
        rows.append({"metric": "ms per turn, whole run", "backend": backend, "turns": last,
                     **h.compare(by[("waypoint", backend, last)]["mean_ms"], by[("langgraph", backend, last)]["mean_ms"], "<= 1.0")})
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    milestones = QUICK_TURNS if quick else FULL_TURNS
    raw: list[dict[str, Any]] = []
    for backend in BACKENDS:
        start = time.perf_counter()
        raw += measure(backend, milestones)
        print(f"({backend}: {time.perf_counter() - start:.1f} s)", flush=True)
    return rows_from(raw, milestones)
