"""pgvector search with the default config: recall@10 on clustered data (the exact scan below
``exact_threshold`` stored vectors, the HNSW index above it), the exact fallback for answers the
index cannot be trusted with (noise-like neighbourhoods) or comes back short on (rare filters),
items without vectors, and the vector column type (halfvec for new stores, kept for old ones)."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import psycopg
import pytest

from tests.backends._pgvector_server import pgvector_url
from tests.backends.postgres_store import fresh_database
from waypoint.errors import SetupError
from waypoint.store.base import PutOp
from waypoint.store.postgres import PostgresStore

N, DIMS, QUERIES = 2_000, 96, 30


def _clustered(rng: np.random.Generator, n: int, centers: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """Points of a Gaussian mixture in a 12-dim latent space, mapped to DIMS dims plus noise
    (low intrinsic dimension and clear clusters, as sentence embeddings)."""
    z = centers[rng.integers(0, len(centers), n)] + 0.6 * rng.standard_normal((n, 12))
    return (z @ mix + 0.25 * rng.standard_normal((n, DIMS))).astype(np.float32)


RNG = np.random.default_rng(11)
CENTERS, MIX = RNG.standard_normal((40, 12)), RNG.standard_normal((12, DIMS)) / np.sqrt(12)
DATA = {
    "clustered": (_clustered(RNG, N, CENTERS, MIX), _clustered(RNG, QUERIES, CENTERS, MIX)),
    "noise": (RNG.standard_normal((N, DIMS)).astype(np.float32),
              RNG.standard_normal((QUERIES, DIMS)).astype(np.float32)),
}
TABLE = {f"{kind}-{what}{i}": vec.tolist()
         for kind, pair in DATA.items() for what, rows in zip("vq", pair) for i, vec in enumerate(rows)}


def lookup(texts: list[str]) -> list[list[float]]:
    return [TABLE[t] for t in texts]


INDEX: dict[str, Any] = {"dims": DIMS, "embed": lookup, "fields": ["text"]}
FORCED = {**INDEX, "ann_index_config": {"exact_threshold": 0}}  # the index answers every query


@pytest.fixture(scope="module")
def urls() -> Iterator[dict[str, str]]:
    """One database per data set, N items each (``g`` = i % 100), HNSW index built."""
    with fresh_database(pgvector_url()) as clustered, fresh_database(pgvector_url()) as noise:
        out = {"clustered": clustered, "noise": noise}
        for kind, url in out.items():
            with PostgresStore.from_conn_string(url, index=INDEX) as store:
                store.batch([PutOp(("docs",), f"k{i}", {"text": f"{kind}-v{i}", "g": i % 100})
                             for i in range(N)])
                store.conn.execute("ANALYZE")
        yield out


def _truth(kind: str, query: int, group: set[int] | None) -> set[str]:
    vectors, queries = DATA[kind]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ (queries[query] / np.linalg.norm(queries[query]))
    if group is not None:
        scores = np.where(np.isin(np.arange(N) % 100, list(group)), scores, -9)
    return {f"k{i}" for i in np.argsort(-scores)[:10]}


def _recall(store: PostgresStore, kind: str, flt: dict | None, group: set[int] | None) -> float:
    hits = 0
    for q in range(QUERIES):
        found = store.search(("docs",), query=f"{kind}-q{q}", filter=flt, limit=10)
        assert len(found) == 10
        if group is not None:
            assert {i.value["g"] for i in found} <= group
        hits += len(_truth(kind, q, group) & {i.key for i in found})
    return hits / (10 * QUERIES)


def _scans(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """(HNSW index scans, rows read by sequential scans) of the vector table so far."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    row = conn.execute(
        "SELECT coalesce(sum(i.idx_scan), 0), max(t.seq_tup_read) FROM pg_stat_user_tables AS t "
        "LEFT JOIN pg_stat_user_indexes AS i ON i.relid = t.relid AND i.indexrelname LIKE '%hnsw%' "
        "WHERE t.relname = 'waypoint_store_vectors'"
    ).fetchone()
    return int(row[0]), int(row[1])


HALF = ({"g": {"$lt": 50}}, set(range(50)))


@pytest.mark.parametrize(("flt", "group"), [(None, None), HALF], ids=["all", "half"])
def test_default_settings_rank_a_small_store_exactly(urls: dict[str, str], flt: Any, group: Any) -> None:
    with PostgresStore.from_conn_string(urls["clustered"], index=INDEX) as store:
        index_before, seq_before = _scans(store.conn)
        assert _recall(store, "clustered", flt, group) >= 0.95
        assert _scans(store.conn)[0] == index_before  # below exact_threshold: no index
        page = store.search(("docs",), query="clustered-q0", limit=5, offset=5)
        top = store.search(("docs",), query="clustered-q0", limit=10)
        assert [i.key for i in page] == [i.key for i in top][5:]


@pytest.mark.parametrize(("flt", "group"), [(None, None), HALF], ids=["all", "half"])
def test_hnsw_recall_at_10_with_default_search_settings(urls: dict[str, str], flt: Any, group: Any) -> None:
    with PostgresStore.from_conn_string(urls["clustered"], index=FORCED) as store:
        index_before, seq_before = _scans(store.conn)
        assert _recall(store, "clustered", flt, group) >= 0.95
        index_after, seq_after = _scans(store.conn)
        assert index_after > index_before  # the index answered, and was trusted: only the
        assert seq_after - seq_before <= QUERIES * 64  # 64-vector samples were scanned


def test_untrusted_index_answers_are_ranked_exactly(urls: dict[str, str]) -> None:
    # Random queries over random vectors: every neighbour is about as close as any other item,
    # where graph search misses much of the true top-10. The store notices and scans instead.
    with PostgresStore.from_conn_string(urls["noise"], index=FORCED) as store:
        index_before, seq_before = _scans(store.conn)
        assert _recall(store, "noise", None, None) >= 0.98  # exact up to halfvec rounding
        index_after, seq_after = _scans(store.conn)
        assert index_after > index_before and seq_after - seq_before >= QUERIES * N
    off = {**INDEX, "ann_index_config": {"exact_threshold": 0, "exact_fallback": False}}
    with PostgresStore.from_conn_string(urls["noise"], index=off) as store:
        _, seq_before = _scans(store.conn)
        _recall(store, "noise", None, None)
        assert _scans(store.conn)[1] == seq_before  # the index alone answered


def test_filters_never_empty_an_approximate_top_k(urls: dict[str, str]) -> None:
    # 20 of 2,000 items match: the iterative index scan comes back short, the exact scan answers
    forced = {**INDEX, "ann_index_config": {"exact_threshold": 0, "ef_search": 10}}
    with PostgresStore.from_conn_string(urls["clustered"], index=forced) as store:
        assert _recall(store, "clustered", {"g": 99}, {99}) == 1.0


def test_exact_scan_ranks_items_without_vectors_last() -> None:
    vectors, queries = DATA["clustered"]
    with fresh_database(pgvector_url()) as url, PostgresStore.from_conn_string(url, index=INDEX) as store:
        store.batch([PutOp(("d",), f"v{i}", {"text": f"clustered-v{i}"}) for i in range(3)])
        store.put(("d",), "plain1", {"other": 1})
        store.put(("d",), "plain2", {"other": 2})
        found = store.search(("d",), query="clustered-q0", limit=10)
        unit = vectors[:3] / np.linalg.norm(vectors[:3], axis=1, keepdims=True)
        truth = np.argsort(-(unit @ queries[0]))
        assert [i.key for i in found] == [f"v{i}" for i in truth] + ["plain2", "plain1"]
        assert [i.score is None for i in found] == [False] * 3 + [True] * 2


def test_vector_column_type_is_kept_or_refused() -> None:
    def column(store: PostgresStore) -> str:
        return store.conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
            "'waypoint_store_vectors'::regclass AND attname = 'embedding'").fetchone()[0]

    with fresh_database(pgvector_url()) as url:
        with PostgresStore.from_conn_string(url, index=INDEX) as store:
            store.put(("d",), "k", {"text": "clustered-v0"})
            assert column(store) == f"halfvec({DIMS})"  # the default for new stores
        with fresh_database(pgvector_url()) as old:
            full = {**INDEX, "ann_index_config": {"vector_type": "vector"}}
            with PostgresStore.from_conn_string(old, index=full) as store:
                store.put(("d",), "k", {"text": "clustered-v0"})
            with PostgresStore.from_conn_string(old, index=INDEX) as store:  # default: keep it
                assert [i.key for i in store.search(("d",), query="clustered-q0")] == ["k"]
                assert column(store) == f"vector({DIMS})"
        for changed in ({**INDEX, "dims": 8}, {**INDEX, "ann_index_config": {"vector_type": "vector"}}):
            with PostgresStore.from_conn_string(url, index=changed) as store:
                with pytest.raises(SetupError, match=f"halfvec\\({DIMS}\\)"):
                    store.setup()
