"""PostgreSQL-specific behaviour of PostgresSaver / AsyncPostgresSaver."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from typing import Any, Iterator

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from tests.backends.postgres_saver import fresh_database
from tests.checkpoint import _workload
from waypoint.checkpoint._sql import dialect as q
from waypoint.checkpoint._sql.dialect import select_where
from waypoint.checkpoint._sql.ops import checkpoint_row_params
from waypoint.checkpoint._sql.postgres_sql import POSTGRES
from waypoint.checkpoint.base import LogHint, empty_checkpoint
from waypoint.checkpoint.postgres import PostgresSaver
from waypoint.checkpoint.postgres.aio import AsyncPostgresSaver
from waypoint.errors import SetupError, SyncOnEventLoopError


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_database() as db_url:
        yield db_url


def cfg(thread: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ""}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def put_step(saver: Any, config: dict[str, Any], values: dict[str, Any], versions: dict[str, str], logs: dict[str, LogHint] | None = None) -> dict[str, Any]:
    cp = empty_checkpoint()
    new = {}
    for ch in values:
        versions[ch] = new[ch] = saver.get_next_version(versions.get(ch))
    cp["channel_values"] = dict(values)
    cp["channel_versions"] = dict(versions)
    if logs:
        cp["channel_logs"] = logs
    return saver.put(config, cp, {"source": "loop", "step": 0, "parents": {}}, new)


def test_connection_settings_are_adapted_or_explained(url: str) -> None:
    with psycopg.Connection.connect(url, row_factory=dict_row) as conn:  # autocommit=False
        saver = PostgresSaver(conn)
        put_step(saver, cfg("t"), {"a": 1}, {})
        assert saver.get_tuple(cfg("t")).checkpoint["channel_values"] == {"a": 1}
        assert len(list(saver.list(cfg("t")))) == 1
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # nothing left open
        conn.execute("SELECT 1")  # the caller's own implicit transaction is now open
        with pytest.raises(SetupError, match="autocommit=True"):
            saver.get_tuple(cfg("t"))
        conn.rollback()
    with pytest.raises(SetupError, match="AsyncPostgresSaver"):
        PostgresSaver("postgresql://nowhere")
    with ConnectionPool(url, kwargs={"row_factory": dict_row}, min_size=1, max_size=2) as pool:
        saver = PostgresSaver(pool)
        put_step(saver, cfg("p"), {"a": 2}, {})
        assert saver.get_tuple(cfg("p")).checkpoint["channel_values"] == {"a": 2}


async def test_async_pool_and_sync_face_refusal(url: str) -> None:
    async with AsyncConnectionPool(url, kwargs={"autocommit": True}, min_size=1, max_size=2, open=False) as pool:
        saver = AsyncPostgresSaver(pool)
        conf = await asyncio.to_thread(put_step, saver, cfg("t"), {"a": 1}, {})
        assert (await saver.aget_tuple(conf)).checkpoint["channel_values"] == {"a": 1}
        for call in (
            lambda: saver.get_tuple(cfg("t")),
            lambda: put_step(saver, cfg("t"), {"a": 2}, {}),
            lambda: list(saver.list(cfg("t"))),
            lambda: saver.delete_thread("t"),
        ):
            with pytest.raises(SyncOnEventLoopError, match="event loop"):
                call()
        assert [x.checkpoint["channel_values"] async for x in saver.alist(None)] == [{"a": 1}]


def _setup(url: str, start_at: float) -> bool:
    time.sleep(max(0.0, start_at - time.time()))
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
    return True


def test_setup_concurrently_from_processes(url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        start_at = time.time() + 1.5
        assert pool.starmap(_setup, [(url, start_at)] * 3) == [True] * 3
    with psycopg.Connection.connect(url) as conn:
        known = len(PostgresSaver.dialect.migrations)
        assert conn.execute("SELECT v FROM waypoint_checkpoint_migrations ORDER BY v").fetchall() == [(v,) for v in range(1, known + 1)]
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()  # again: idempotent


@pytest.mark.slow
def test_eight_processes_write_at_once(url: str) -> None:
    """8 worker processes x 100 threads x 2 checkpoints (each with a log channel)."""
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(8) as pool:
        start_at = time.time() + 3.0
        began = time.perf_counter()
        counts = pool.starmap(_workload.write_threads, [("postgres", url, f"w{i}", 100, 2, start_at) for i in range(8)])
        elapsed = time.perf_counter() - began - 3.0
    assert counts == [200] * 8
    with PostgresSaver.from_conn_string(url) as saver:
        assert sum(_workload.verify_threads(saver, f"w{i}", 100, 2) for i in range(8)) == 1600
    print(f"postgres: 8 processes x 200 checkpoints at once: {elapsed:.2f}s")


def test_concurrent_appends_to_one_lineage_stay_correct(url: str) -> None:
    """Two writers extend the same log version at once: the row lock makes one extend and
    the other fork, and both checkpoints read back exactly."""
    with PostgresSaver.from_conn_string(url) as saver:
        versions: dict[str, str] = {}
        base_conf = put_step(saver, cfg("t"), {"log": ["a"]}, versions, logs={"log": LogHint(None, 0)})
    base = versions["log"]
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def writer(tag: str) -> None:
        with PostgresSaver.from_conn_string(url) as s:
            barrier.wait()
            results[tag] = put_step(s, base_conf, {"log": ["a", tag]}, {"log": base}, logs={"log": LogHint(base, 1)})

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with PostgresSaver.from_conn_string(url) as saver:
        for tag, conf in results.items():
            assert saver.get_tuple(conf).checkpoint["channel_values"]["log"] == ["a", tag]


def test_get_tuple_is_one_round_trip(url: str) -> None:
    class Counting(psycopg.Cursor):  # type: ignore[type-arg]
        calls: list[str] = []

        def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            Counting.calls.append(str(query)[:40])
            return super().execute(query, *args, **kwargs)

        def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:
            Counting.calls.append(str(query)[:40])
            return super().executemany(query, *args, **kwargs)

    with psycopg.Connection.connect(url, autocommit=True, cursor_factory=Counting) as conn:
        saver = PostgresSaver(conn)
        versions: dict[str, str] = {}
        conf = cfg("t")
        items: list[str] = []
        for i in range(150):
            base, prev = versions.get("log"), len(items)
            items = items + [f"m{i}"]
            conf = put_step(saver, conf, {"log": items, "n": i}, versions, logs={"log": LogHint(base, prev)})
        conn.execute("SELECT 1")
        saver.put_writes(conf, [("n", 1), ("x", 2)], "task")
        Counting.calls.clear()
        got = saver.get_tuple(cfg("t"))
        assert len(Counting.calls) == 1, Counting.calls
        assert got.checkpoint["channel_values"]["log"] == items and len(got.pending_writes) == 2


def test_filtered_listing_uses_an_index_and_pages_once(url: str) -> None:
    n = 10_000
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        rows, blobs = [], []
        # the thread under test, plus 100 other threads of 100 checkpoints each
        plan = [("big", i) for i in range(n)] + [(f"other-{j % 100}", j) for j in range(10_000)]
        parent = None
        for thread, i in plan:
            cp = empty_checkpoint()
            version = f"{i + 1:010d}.00000000"
            cp["channel_versions"] = {"i": version}
            md = {"source": "loop", "step": i, "parity": i % 2, "tag": "rare" if i % 1000 == 0 and thread == "big" else "common"}
            rows.append(checkpoint_row_params(saver.serde, thread, "", cp, md, parent))  # type: ignore[arg-type]
            blobs.append((thread, "", "i", version, *saver.serde.dumps_typed(i), None, None))
            parent = cp["id"]
        conn = saver.conn
        with conn.cursor() as cur:
            cur.executemany(POSTGRES.q(q.INSERT_CHECKPOINT), rows)
            cur.executemany(POSTGRES.q(q.INSERT_BLOB), blobs)
        conn.execute("ANALYZE waypoint_checkpoints")
        for scope, flt in ((cfg("big"), {"parity": 0}), (None, {"tag": "rare"})):
            conf = (scope or {}).get("configurable", {})
            where, params = select_where(POSTGRES, thread_id=conf.get("thread_id"), checkpoint_ns=conf.get("checkpoint_ns"), filter=flt)
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + POSTGRES.tuples_sql(where), [*params, 50]))
            assert "waypoint_checkpoints_metadata" in plan or "waypoint_checkpoints_pkey" in plan, plan
            if scope is None:
                assert "waypoint_checkpoints_metadata" in plan, plan  # the GIN index
        where, params = select_where(POSTGRES, thread_id="big", checkpoint_ns="")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + POSTGRES.tuples_sql(where), [*params, 1]))
        assert "Index Scan Backward using waypoint_checkpoints_pkey" in plan, plan  # latest: no sort
        assert "Seq Scan" not in plan, plan
        assert [x.metadata["step"] for x in saver.list(None, filter={"tag": "rare"})] == list(range(9000, -1, -1000))
        started = time.perf_counter()
        seen: list[int] = []
        before = None
        while True:
            page = list(saver.list(cfg("big"), filter={"parity": 0}, before=before, limit=1000))
            if not page:
                break
            seen.extend(x.checkpoint["channel_values"]["i"] for x in page)
            before = page[-1].config
        assert seen == list(range(n - 2, -1, -2))
        print(f"paged 5,000 filtered checkpoints of 10,000 in {time.perf_counter() - started:.2f}s")
