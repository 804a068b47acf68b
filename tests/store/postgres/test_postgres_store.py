"""PostgreSQL store specifics: pgvector recall with the default config (HNSW and exact paths),
the no-pgvector error, SQL injection attempts, corrupt rows, connection checks, loop guard."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Iterator

import numpy as np
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from tests.backends._pgvector_server import pgvector_url
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

N, DIMS, QUERIES = 10_000, 384, 30
RNG = np.random.default_rng(7)
VECTORS = RNG.standard_normal((N, DIMS)).astype(np.float32)
QUERY_VECTORS = RNG.standard_normal((QUERIES, DIMS)).astype(np.float32)
TABLE = {f"v{i}": VECTORS[i].tolist() for i in range(N)}
TABLE.update({f"q{i}": QUERY_VECTORS[i].tolist() for i in range(QUERIES)})


def lookup(texts: list[str]) -> list[list[float]]:
    return [TABLE[t] for t in texts]


INDEX = {"dims": DIMS, "embed": lookup, "fields": ["text"]}


@pytest.fixture(scope="module")
def loaded_url() -> Iterator[str]:
    """A pgvector database holding 10,000 random 384-dim items, HNSW index built."""
    with fresh_database(pgvector_url()) as url:
        flat = {**INDEX, "ann_index_config": {"kind": "flat"}}
        with PostgresStore.from_conn_string(url, index=flat) as store:  # bulk load, no index
            store.batch([PutOp(("docs",), f"k{i}", {"text": f"v{i}", "g": i % 100})
                         for i in range(N)])
        with PostgresStore.from_conn_string(url, index=INDEX) as store:
            store.setup()  # builds the default HNSW index over the loaded rows
        yield url


def _truth(query: int, group: set[int] | None) -> set[str]:
    unit = VECTORS / np.linalg.norm(VECTORS, axis=1, keepdims=True)
    scores = unit @ (QUERY_VECTORS[query] / np.linalg.norm(QUERY_VECTORS[query]))
    if group is not None:
        scores = np.where(np.isin(np.arange(N) % 100, list(group)), scores, -9)
    return {f"k{i}" for i in np.argsort(-scores)[:10]}


def _hnsw_scans(conn: psycopg.Connection[Any]) -> int:
    conn.execute("SELECT pg_stat_force_next_flush()")
    row = conn.execute(
        "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes "
        "WHERE indexrelname LIKE 'waypoint_store_vectors_hnsw%'"
    ).fetchone()
    return int(row[0]) if row else 0


def _recall(store: PostgresStore, flt: dict | None, group: set[int] | None) -> float:
    hits = 0
    for q in range(QUERIES):
        found = store.search(("docs",), query=f"q{q}", filter=flt, limit=10)
        assert len(found) == 10
        hits += len(_truth(q, group) & {i.key for i in found})
    return hits / (10 * QUERIES)


ANN = {**INDEX, "exact_threshold": 1000}  # 10,000 items: force the index (default: exact)


@pytest.mark.parametrize(
    ("flt", "group"), [(None, None), ({"g": {"$lt": 50}}, set(range(50)))], ids=["all", "half"]
)
def test_hnsw_recall_at_10_with_default_search_settings(loaded_url: str, flt: Any, group: Any) -> None:
    with PostgresStore.from_conn_string(loaded_url, index=ANN) as store:
        before = _hnsw_scans(store.conn)
        started = time.perf_counter()
        recall = _recall(store, flt, group)
        elapsed = time.perf_counter() - started
        assert _hnsw_scans(store.conn) > before  # the approximate index answered
        print(f"recall@10 {recall:.3f}, {1000 * elapsed / QUERIES:.1f} ms/query")
        assert recall >= 0.95


@pytest.mark.parametrize("threshold", [None, 1000], ids=["default", "counted"])
def test_candidate_sets_up_to_the_threshold_are_ranked_exactly(
    loaded_url: str, threshold: int | None
) -> None:
    # default (100,000): the table estimate alone bounds the candidates; 1000: they are counted
    index = INDEX if threshold is None else {**INDEX, "exact_threshold": threshold}
    with PostgresStore.from_conn_string(loaded_url, index=index) as store:
        before = _hnsw_scans(store.conn)
        assert _recall(store, {"g": {"$in": [3, 7]}}, {3, 7}) == 1.0  # 200 candidates
        if threshold is None:
            assert _recall(store, None, None) == 1.0  # all 10,000
        assert _hnsw_scans(store.conn) == before  # exact scans: the index was not used
        page = store.search(("docs",), query="q0", limit=5, offset=5)
        assert [i.key for i in page] == [i.key for i in store.search(("docs",), query="q0", limit=10)][5:]


def test_exact_scan_ranks_items_without_vectors_last() -> None:
    with fresh_database(pgvector_url()) as url, PostgresStore.from_conn_string(url, index=INDEX) as store:
        store.batch([PutOp(("d",), f"v{i}", {"text": f"v{i}"}) for i in range(3)])
        store.put(("d",), "plain1", {"other": 1})
        store.put(("d",), "plain2", {"other": 2})
        found = store.search(("d",), query="q0", limit=10)
        truth = sorted(range(3), key=lambda i: -float(VECTORS[i] @ QUERY_VECTORS[0] /
                                                     np.linalg.norm(VECTORS[i]) / np.linalg.norm(QUERY_VECTORS[0])))
        assert [i.key for i in found] == [f"v{i}" for i in truth] + ["plain2", "plain1"]
        assert [i.score is None for i in found] == [False] * 3 + [True] * 2


def test_filters_never_empty_an_approximate_top_k(loaded_url: str) -> None:
    forced = {**INDEX, "exact_threshold": 50, "ann_index_config": {"ef_search": 10}}
    with PostgresStore.from_conn_string(loaded_url, index=forced) as store:
        before = _hnsw_scans(store.conn)
        found = store.search(("docs",), query="q0", filter={"g": 99}, limit=10)  # 100 candidates
        assert len(found) == 10 and {i.value["g"] for i in found} == {99}
        assert _hnsw_scans(store.conn) > before


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


def test_changed_dims_are_refused(loaded_url: str) -> None:
    with PostgresStore.from_conn_string(loaded_url, index={**INDEX, "dims": 8}) as store:
        with pytest.raises(SetupError, match="vector\\(384\\)"):
            store.setup()


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
