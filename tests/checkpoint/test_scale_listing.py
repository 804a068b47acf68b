"""Listings that do not read every thread: a page of threads (``waypoint threads``, the web
inspector) and cross-thread ``list(None, limit=10)`` do the same work at 300 threads and at
3,000, on SQLite (virtual machine steps, counted by a progress handler) and PostgreSQL (buffers
touched, from EXPLAIN ANALYZE). A scan of every thread would do ten times the work.

The threads are clones of one real thread's rows made by SQL (the summary table follows through
its triggers), so the data is large without running thousands of graphs."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import _graph
from waypoint._ops import run, stream
from waypoint.checkpoint._sql import ops
from waypoint.checkpoint._sql import threads as sql_threads
from waypoint.checkpoint._sql.requests import Fetch, execute

SMALL, LARGE = 300, 3000


def _reads(d: Any, serde: Any, count: Callable[[Any], Any]) -> dict[str, int]:
    """Work of one thread page, one filtered page, and list(None, limit=10), each counted."""
    out = {}
    for name, op, streaming in (
        ("threads", lambda: sql_threads.thread_page(d, serde, limit=10), False),
        ("threads_filtered", lambda: sql_threads.thread_page(d, serde, limit=10, filter={"user": "u1"}), False),
        ("list_none", lambda: ops.list_checkpoints(d, serde, None, limit=10), True),
        ("list_none_filtered", lambda: ops.list_checkpoints(d, serde, None, limit=10, filter={"source": "loop"}), True),
    ):
        work, result = count(lambda execute_: list(stream(op(), execute_)) if streaming else run(op(), execute_))
        assert len(result) == 10, name
        out[name] = work
    return out


def _thread_tables(names: list[str]) -> list[str]:
    """The tables holding a thread's data (thread_id first), checkpoints first."""
    keep = [n for n in names if n.startswith("waypoint_") and n not in ("waypoint_threads", "waypoint_leases", "waypoint_checkpoint_migrations")]
    return sorted(keep, key=lambda n: n != "waypoint_checkpoints")


def _assert_flat(small: dict[str, int], large: dict[str, int]) -> None:
    for name, work in small.items():
        # ten times the threads: a full scan does ~10x the work; a keyset page about the same
        assert large[name] < 2 * work + 50, (name, small, large)


# --- SQLite ------------------------------------------------------------------------------------

_SQLITE_CLONE = """
WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO {table} SELECT 'clone-' || printf('%06d', n.i), {rest} FROM {table}, n WHERE thread_id = 'seed'"""


def _sqlite_grow(path: Path, start: int, stop: int) -> None:
    with sqlite3.connect(path) as conn:
        for table in _thread_tables([r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")][1:]
            rest = ", ".join(cols)
            if table == "waypoint_checkpoints":  # every fifth clone is u1's
                rest = rest.replace("metadata,", "CASE WHEN n.i % 5 = 0 THEN json_set(metadata, '$.user', 'u1') ELSE metadata END,", 1)
            conn.execute(_SQLITE_CLONE.format(table=table, rest=rest), (start, stop - 1))


def test_sqlite_listings_are_flat(tmp_path: Path) -> None:
    from waypoint.checkpoint._sql.sqlite_sql import SQLITE
    from waypoint.checkpoint.sqlite import SqliteSaver

    path = tmp_path / "scale.db"
    with SqliteSaver.from_conn_string(path) as saver:
        _graph.populate(saver, {"seed": {"user": "u0"}}, {"seed"})
        serde = saver.serde

    def measure() -> dict[str, int]:
        conn = sqlite3.connect(path)
        steps = [0]
        conn.set_progress_handler(lambda: steps.__setitem__(0, steps[0] + 1) or 0, 100)

        def count(body: Callable[[Any], Any]) -> tuple[int, Any]:
            cur = conn.cursor()
            steps[0] = 0
            result = body(lambda request: execute(cur, request))
            return steps[0], result

        try:
            return _reads(SQLITE, serde, count)
        finally:
            conn.close()

    _sqlite_grow(path, 0, SMALL)
    small = measure()
    _sqlite_grow(path, SMALL, LARGE)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM waypoint_threads").fetchone()[0] == LARGE + 1
    _assert_flat(small, measure())


# --- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture
def pg_conninfo() -> Iterator[str]:
    from tests.backends.postgres_saver import fresh_database

    with fresh_database() as conninfo:
        yield conninfo


def _pg_grow(conn: Any, start: int, stop: int) -> None:
    names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    for table in _thread_tables(names):
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position", (table,)
        )][1:]
        rest = ", ".join(cols)
        if table == "waypoint_checkpoints":
            rest = rest.replace(
                "metadata,", """CASE WHEN n % 5 = 0 THEN metadata || '{"user": "u1"}'::jsonb ELSE metadata END,""", 1,
            ).replace("%", "%%")
        conn.execute(
            f"INSERT INTO {table} SELECT 'clone-' || lpad(n::text, 6, '0'), {rest} "
            f"FROM {table}, generate_series(%s::int, %s::int) AS n WHERE thread_id = 'seed'",
            (start, stop - 1),
        )
    conn.execute("ANALYZE")


def test_postgres_listings_are_flat(pg_conninfo: str) -> None:
    import psycopg

    from waypoint.checkpoint._sql.postgres_sql import POSTGRES
    from waypoint.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(pg_conninfo) as saver:
        saver.setup()
        _graph.populate(saver, {"seed": {"user": "u0"}}, {"seed"})
        serde = saver.serde

    with psycopg.connect(pg_conninfo, autocommit=True) as conn:

        def count(body: Callable[[Any], Any]) -> tuple[int, Any]:
            cur = conn.cursor()
            buffers = [0]

            def explained(request: Any) -> Any:
                if isinstance(request, Fetch):
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + request.sql, request.params)
                    plan = cur.fetchone()[0]
                    top = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
                    buffers[0] += top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
                return execute(cur, request)

            result = body(explained)
            return buffers[0], result

        _pg_grow(conn, 0, SMALL)
        small = _reads(POSTGRES, serde, count)
        _pg_grow(conn, SMALL, LARGE)
        assert conn.execute("SELECT count(*) FROM waypoint_threads").fetchone()[0] == LARGE + 1
        _assert_flat(small, _reads(POSTGRES, serde, count))


def test_existing_databases_gain_the_summary_and_indexes(tmp_path: Path, pg_conninfo: str) -> None:
    """A database made before migration 4 (no summary table, triggers or recency indexes) is
    backfilled by ``setup()``: its threads list most recently updated first."""
    import psycopg

    from waypoint.checkpoint.postgres import PostgresSaver
    from waypoint.checkpoint.sqlite import SqliteSaver
    from waypoint.cli._walk import summaries

    undo = (
        "DROP TRIGGER IF EXISTS waypoint_threads_put{on}", "DROP TRIGGER IF EXISTS waypoint_threads_drop{on}",
        "DROP TABLE waypoint_threads", "DROP INDEX waypoint_checkpoints_recent",
        "DELETE FROM waypoint_checkpoint_migrations WHERE v = 4",
    )
    path = tmp_path / "old.db"
    with SqliteSaver.from_conn_string(path) as saver:
        _graph.populate(saver, {"old-1": {}, "old-2": {}})
    with sqlite3.connect(path) as conn:
        for sql in undo:
            conn.execute(sql.format(on=""))
    with PostgresSaver.from_conn_string(pg_conninfo) as saver:
        saver.setup()
        _graph.populate(saver, {"old-1": {}, "old-2": {}})
    with psycopg.connect(pg_conninfo, autocommit=True) as conn:
        for sql in undo:
            conn.execute(sql.format(on=" ON waypoint_checkpoints"))
    for opened in (SqliteSaver.from_conn_string(path), PostgresSaver.from_conn_string(pg_conninfo)):
        with opened as saver:
            saver.setup()
            assert [s.thread_id for s in summaries(saver)] == ["old-2", "old-1"]
            _graph.populate(saver, {"old-1": {}})  # the triggers are back: old-1 is now the newest
            assert [s.thread_id for s in summaries(saver)] == ["old-1", "old-2"]


def test_list_none_orders_like_langgraph(tmp_path: Path) -> None:
    """``list(None)`` with and without ``limit`` and a metadata filter, side by side with
    LangGraph's SqliteSaver on the same checkpoints (and waypoint's in-memory saver): newest
    checkpoint id first across threads and namespaces."""
    from langgraph.checkpoint.base import empty_checkpoint as lg_empty
    from langgraph.checkpoint.sqlite import SqliteSaver as LgSaver

    from waypoint.checkpoint.base import empty_checkpoint
    from waypoint.checkpoint.sqlite import SqliteSaver

    rng = random.Random(11)
    puts = []
    for i in range(60):  # ids in an order unrelated to threads and namespaces
        thread, ns = f"t{rng.randrange(7)}", rng.choice(["", "sub:1"])
        puts.append((thread, ns, f"1f1f{rng.randrange(16**8):08x}-0000-6000-8000-{i:012d}", {"user": f"u{i % 3}", "step": i}))
    from waypoint.checkpoint.memory import InMemorySaver

    memory = InMemorySaver()
    with SqliteSaver.from_conn_string(tmp_path / "wp.db") as ours, LgSaver.from_conn_string(str(tmp_path / "lg.db")) as theirs:
        theirs.setup()
        for thread, ns, cid, meta in puts:
            for saver, empty in ((ours, empty_checkpoint), (theirs, lg_empty), (memory, empty_checkpoint)):
                cp = empty()
                cp["id"] = cid
                saver.put({"configurable": {"thread_id": thread, "checkpoint_ns": ns}}, cp, meta, {})

        def keys(saver: Any, **kw: Any) -> list[tuple[str, str, str]]:
            return [(c["thread_id"], c["checkpoint_ns"], c["checkpoint_id"]) for c in (t.config["configurable"] for t in saver.list(None, **kw))]

        for kw in ({}, {"limit": 10}, {"filter": {"user": "u1"}}, {"filter": {"user": "u1"}, "limit": 5}):
            assert keys(ours, **kw) == keys(theirs, **kw) == keys(memory, **kw), kw
        assert [k[2] for k in keys(ours)] == sorted((p[2] for p in puts), reverse=True)


def test_memory_list_none_reads_only_what_it_returns() -> None:
    """InMemorySaver's recency index: list(None, limit=10) looks up about ten rows at 3,000
    threads, stays exact through deletes, re-puts of the same ids, copies and prunes, and
    ``before`` starts where it says."""
    from waypoint.checkpoint.base import empty_checkpoint
    from waypoint.checkpoint.memory import InMemorySaver

    saver = InMemorySaver()

    def put(thread: str, cid: str, ns: str = "") -> None:
        cp = empty_checkpoint()
        cp["id"] = cid
        saver.put({"configurable": {"thread_id": thread, "checkpoint_ns": ns}}, cp, {"n": cid}, {})

    for i in range(3000):
        put(f"t{i}", f"{i:06d}-a")
        put(f"t{i}", f"{i:06d}-b", "sub:1")

    class Counting(dict):  # type: ignore[type-arg]
        reads = 0

        def get(self, key: Any, default: Any = None) -> Any:
            Counting.reads += 1
            return super().get(key, default)

    saver._rows = Counting(saver._rows)
    got = [t.config["configurable"]["checkpoint_id"] for t in saver.list(None, limit=10)]
    assert got == [f"{i:06d}-{x}" for i in range(2999, 2994, -1) for x in "ba"]
    assert Counting.reads <= 12

    saver.delete_thread("t2999")
    put("t2998", "002998-b", "sub:1")  # the same row again: listed once
    saver.copy_thread("t2997", "copy")
    saver.prune(["t2996"], strategy="keep_latest", keep_last=1)
    def keys(**kw: Any) -> list[tuple[str, str, str]]:
        return [(c["checkpoint_id"], c["thread_id"], c["checkpoint_ns"]) for c in (t.config["configurable"] for t in saver.list(None, **kw))]

    expected = sorted(((cid, t, ns) for t, ns, cid in saver._rows), reverse=True)
    assert keys() == expected and len(set(expected)) == len(expected)
    assert keys(limit=4) == expected[:4]
    assert keys(before={"configurable": {"checkpoint_id": "002990-a"}}, limit=2) == [e for e in expected if e[0] < "002990-a"][:2]


def test_postgres_summary_stays_exact_within_one_transaction(pg_conninfo: str) -> None:
    """Rows inserted and deleted in one transaction, several namespaces and a whole-thread
    copy leave the summary equal to max(checkpoint_id) per thread (a guard for any change to
    how its triggers fire, e.g. at commit)."""
    import psycopg

    from waypoint.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(pg_conninfo) as saver:
        saver.setup()
        _graph.populate(saver, {"seed": {}}, {"seed"})
        saver.copy_thread("seed", "copy")
    exact = """SELECT t.thread_id, t.checkpoint_id, m.newest FROM waypoint_threads AS t
      FULL JOIN (SELECT thread_id, max(checkpoint_id) AS newest FROM waypoint_checkpoints
                 GROUP BY thread_id) AS m ON m.thread_id = t.thread_id"""
    cols = ("thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, "
            "channel_versions, metadata, metadata_type, metadata_blob, run_id, logs")
    with psycopg.connect(pg_conninfo) as conn:  # one transaction until the block ends
        for ns, cid in (("", "zz1"), ("", "zz3"), ("sub:1", "zz2"), ("", "zz4")):
            conn.execute(
                f"INSERT INTO waypoint_checkpoints ({cols}) SELECT 'mixed', %s, %s, "
                f"{cols.split(', ', 3)[3]} FROM waypoint_checkpoints WHERE thread_id = 'seed' LIMIT 1",
                (ns, cid),
            )
        conn.execute("DELETE FROM waypoint_checkpoints WHERE thread_id = 'mixed' AND checkpoint_id = 'zz4'")
        conn.execute(
            f"INSERT INTO waypoint_checkpoints ({cols}) SELECT 'gone', '', 'zz9', "
            f"{cols.split(', ', 3)[3]} FROM waypoint_checkpoints WHERE thread_id = 'seed' LIMIT 1"
        )
        conn.execute("DELETE FROM waypoint_checkpoints WHERE thread_id = 'gone'")
    with psycopg.connect(pg_conninfo, autocommit=True) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(exact)}
    assert set(rows) == {"seed", "copy", "mixed"}
    assert rows["mixed"] == ("zz3", "zz3")
    assert all(summary == newest for summary, newest in rows.values()), rows
