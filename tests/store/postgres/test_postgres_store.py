"""PostgreSQL store specifics: the no-pgvector error, SQL injection attempts, corrupt rows,
connection checks, loop guard (vector search: test_vector_search.py)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from tests.backends.postgres_store import PLAIN_URL, fresh_database
from waypoint.errors import (
    SerializationError,
    SetupError,
    SyncOnEventLoopError,
    VectorSearchUnavailableError,
)
from waypoint.store.base import PutOp
from waypoint.store.postgres import PostgresStore
from waypoint.store.postgres.aio import AsyncPostgresStore


def test_query_without_pgvector_is_a_clear_error() -> None:
    index = {"dims": 4, "embed": lambda texts: [[1.0, 0, 0, 0]] * len(texts)}
    with fresh_database(PLAIN_URL) as url, PostgresStore.from_conn_string(url, index=index) as store:
        store.put(("n",), "k", {"text": "x", "v": 1})
        assert store.get(("n",), "k").value == {"text": "x", "v": 1}
        assert [i.key for i in store.search(("n",), filter={"v": 1})] == ["k"]
        with pytest.raises(VectorSearchUnavailableError, match="CREATE EXTENSION vector"):
            store.search(("n",), query="x")


NASTY_KEY = "a'); DROP TABLE waypoint_store; --"
NASTY_VALUE = "it's \"quoted\" '); DELETE FROM waypoint_store; --"


def test_filter_injection_attempts_are_harmless_and_match() -> None:
    with fresh_database(PLAIN_URL) as url, PostgresStore.from_conn_string(url) as store:
        store.put(("ns",), "hit", {NASTY_KEY: NASTY_VALUE, "nested": {NASTY_KEY: 1}, 'x"y': "é"})
        store.put(("ns",), "miss", {NASTY_KEY: "other", "nested": {NASTY_KEY: 2}})
        for flt, expected in [
            ({NASTY_KEY: NASTY_VALUE}, ["hit"]),
            ({NASTY_KEY: {"$nin": [NASTY_VALUE]}}, ["miss"]),
            ({f"nested.{NASTY_KEY}": {"$gte": 2}}, ["miss"]),
            ({"nested": {NASTY_KEY: 1.0}}, ["hit"]),
            ({'x"y': {"$gt": "e"}}, ["hit"]),
        ]:
            assert [i.key for i in store.search(("ns",), filter=flt)] == expected, flt
        store.put(("a%", "_b"), "k", {"v": 1})
        store.put(("ab", "cb"), "k", {"v": 2})
        assert [i.value["v"] for i in store.search(("a%",))] == [1]
        assert store.list_namespaces(suffix=("_b",)) == [("a%", "_b")]
        assert store.conn.execute("SELECT count(*) FROM waypoint_store").fetchone()[0] == 4


def test_corrupt_value_is_a_clear_error() -> None:
    with fresh_database(PLAIN_URL) as url, PostgresStore.from_conn_string(url) as store:
        store.put(("users", "1"), "bad", {"v": 1})
        store.conn.execute("UPDATE waypoint_store SET value = '[1, 2]'::jsonb")
        with pytest.raises(SerializationError, match=r"'bad' in namespace \('users', '1'\)"):
            store.get(("users", "1"), "bad")


def test_connection_checks_and_pools() -> None:
    with fresh_database(PLAIN_URL) as url:
        with psycopg.connect(url) as conn:  # autocommit=False works while idle
            store = PostgresStore(conn)
            store.put(("n",), "k", {"v": 1})
            conn.execute("SELECT 1")  # leaves the caller's transaction open
            with pytest.raises(SetupError, match="autocommit=True"):
                store.get(("n",), "k")
            conn.rollback()
            assert store.get(("n",), "k").value == {"v": 1}
        with ConnectionPool(url, min_size=1, max_size=2, open=True) as pool:
            store = PostgresStore(pool)
            assert store.get(("n",), "k").value == {"v": 1}
        with pytest.raises(SetupError, match="AsyncPostgresStore"):
            PostgresStore("postgresql://nowhere")


async def test_async_store_sync_face_refuses_on_its_loop() -> None:
    with fresh_database(PLAIN_URL) as url:
        async with AsyncPostgresStore.from_conn_string(url) as store:
            await store.aput(("n",), "k", {"v": 1})
            for call in (lambda: store.get(("n",), "k"), lambda: store.put(("n",), "k", {}),
                         lambda: store.list_namespaces(), store.sweep_ttl):
                with pytest.raises(SyncOnEventLoopError):
                    call()
            item = await asyncio.to_thread(store.get, ("n",), "k")
            assert item.value == {"v": 1}


def test_bulk_put_round_trips_awkward_values_and_ttls() -> None:
    # a batch of puts is one unnest statement with binary arrays: quotes, backslashes, NUL-free
    # escapes, non-ASCII, mixed int/float/None TTLs and a delete in the same batch
    values = [{"s": 'a "quoted" \\ back\\slash', "u": "é ☃ 𝄞", "n": i, "e": "\\u0000"} for i in range(3)]
    with fresh_database(PLAIN_URL) as url, PostgresStore.from_conn_string(url) as store:
        store.put(("n",), "gone", {"v": 0})
        store.batch([PutOp(("n",), f"k{i}", v, ttl=ttl)
                     for i, (v, ttl) in enumerate(zip(values, [5, 2.5, None]))]
                    + [PutOp(("n",), "gone", None), PutOp(("n",), "k0", values[0], ttl=5)])
        assert [store.get(("n",), f"k{i}").value for i in range(3)] == values
        assert store.get(("n",), "gone") is None
        rows = store.conn.execute(
            "SELECT key, ttl_minutes, expires_at IS NULL FROM waypoint_store ORDER BY key").fetchall()
        assert rows == [("k0", 5.0, False), ("k1", 2.5, False), ("k2", None, True)]
