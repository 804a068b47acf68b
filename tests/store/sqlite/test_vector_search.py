"""SQLite vector search from the in-memory matrix: recall on clustered data with the default
settings (with and without a filter), the cache following writes from other connections, and
the migration of a store written by the previous schema (vectors without ids)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from waypoint.errors import ConfigError, CorruptStoreItemError
from waypoint.store.base import PutOp, SearchOp
from waypoint.store.sqlite import SqliteStore

DIMS = 32


def _clustered(n: int, queries: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Sentence-embedding-like data: a mixture of Gaussian clusters, queries near items."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((40, DIMS))
    vectors = centers[rng.integers(0, 40, n)] + 0.35 * rng.standard_normal((n, DIMS))
    qs = vectors[rng.integers(0, n, queries)] + 0.35 * rng.standard_normal((queries, DIMS))
    return vectors.astype(np.float32), qs.astype(np.float32)


def _exact(vectors: np.ndarray, query: np.ndarray, allowed: np.ndarray, k: int) -> set[str]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = np.where(allowed, unit @ (query / np.linalg.norm(query)), -np.inf)
    return {f"k{int(i)}" for i in np.argsort(-scores)[:k]}


def test_recall_on_clustered_data_with_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from waypoint.store._sql import sqlite_matrix

    monkeypatch.setattr(sqlite_matrix, "PAGE", 128)  # the matrix loads in many pages
    n = 2000
    vectors, queries = _clustered(n, 30)
    table = {f"doc {i}": vectors[i].tolist() for i in range(n)}
    table.update({f"q {j}": queries[j].tolist() for j in range(len(queries))})
    index = {"dims": DIMS, "embed": lambda texts: [table[t] for t in texts], "fields": ["text"]}
    with SqliteStore.from_conn_string(tmp_path / "r.db", index=index) as store:
        assert store.vector_backend == "matrix"
        for lo in range(0, n, 500):
            store.batch([PutOp(("docs",), f"k{i}", {"text": f"doc {i}", "cat": i % 10})
                         for i in range(lo, lo + 500)])
        cats = np.arange(n) % 10
        hits = {False: 0, True: 0}
        for j in range(len(queries)):
            for filtered in (False, True):
                flt = {"cat": j % 10} if filtered else None
                got = {i.key for i in store.search(("docs",), query=f"q {j}", filter=flt, limit=10)}
                allowed = cats == j % 10 if filtered else np.ones(n, dtype=bool)
                hits[filtered] += len(got & _exact(vectors, queries[j], allowed, 10))
        assert hits[False] / (10 * len(queries)) >= 0.95
        assert hits[True] / (10 * len(queries)) >= 0.95


def test_selective_filter_and_namespace_are_exact(tmp_path: Path) -> None:
    """A filter matching 3 of 600 items (pre-filtering takes over) and a namespace prefix
    (applied in memory) still return the exact best matches."""
    n = 600
    vectors, queries = _clustered(n, 5, seed=5)
    table = {f"doc {i}": vectors[i].tolist() for i in range(n)}
    table.update({f"q {j}": queries[j].tolist() for j in range(len(queries))})
    index = {"dims": DIMS, "embed": lambda texts: [table[t] for t in texts], "fields": ["text"]}
    with SqliteStore.from_conn_string(tmp_path / "s.db", index=index) as store:
        store.batch([PutOp(("docs", f"u{i % 3}"), f"k{i}", {"text": f"doc {i}", "rare": i % 200 == 0})
                     for i in range(n)])
        for j in range(len(queries)):
            got = [i.key for i in store.search(("docs",), query=f"q {j}", filter={"rare": True})]
            assert set(got) == {"k0", "k200", "k400"}
            got = {i.key for i in store.search(("docs", "u1"), query=f"q {j}", limit=5)}
            assert got == _exact(vectors, queries[j], np.arange(n) % 3 == 1, 5)


def test_matrix_follows_other_connections(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    vecs = {"a": [1.0, 0.0], "b": [0.0, 1.0], "ab": [1.0, 1.0]}
    index = {"dims": 2, "embed": lambda texts: [vecs[t] for t in texts], "fields": ["t"]}
    with SqliteStore.from_conn_string(path, index=index) as one, \
            SqliteStore.from_conn_string(path, index=index) as two:
        one.put(("n",), "x", {"t": "a"})
        one.put(("n",), "y", {"t": "b"})
        assert [i.key for i in one.search(("n",), query="a")] == ["x", "y"]
        two.put(("n",), "x", {"t": "b"})  # rewritten elsewhere: its old vector is gone
        two.put(("n",), "z", {"t": "ab"})
        two.delete(("n",), "y")
        got = [(i.key, round(i.score, 4)) for i in one.search(("n",), query="a")]
        assert got == [("z", 0.7071), ("x", 0.0)]


def test_failed_write_batch_forgets_rows_it_read(tmp_path: Path) -> None:
    """A batch that wrote, searched (caching its own uncommitted vector) and then failed is
    rolled back, and SQLite hands the rolled-back id out again: the cache must not keep the
    ghost's vector under that id."""
    vecs = {"a": [1.0, 0.0], "b": [0.0, 1.0]}
    index = {"dims": 2, "embed": lambda texts: [vecs[t] for t in texts], "fields": ["t"]}
    with SqliteStore.from_conn_string(tmp_path / "f.db", index=index) as store:
        store.put(("n",), "keep", {"t": "b"})
        store.put(("m",), "bad", {"v": 1})
        store.conn.execute("UPDATE waypoint_store SET value = '{not json' WHERE key = 'bad'")
        store.search(("n",), query="a")
        with pytest.raises(CorruptStoreItemError):
            store.batch([PutOp(("n",), "ghost", {"t": "a"}), SearchOp(("n",), None, 10, 0, "a"),
                         SearchOp(("m",), {"v": 1}, 10, 0, None)])
        store.put(("n",), "real", {"t": "b"})  # gets the ghost's vector id
        got = sorted((i.key, i.score) for i in store.search(("n",), query="a"))
        assert got == [("keep", 0.0), ("real", 0.0)]


def test_vector_cache_option_is_validated(tmp_path: Path) -> None:
    index = {"dims": 2, "embed": lambda texts: [[1.0, 0.0] for _ in texts], "vector_cache": "yes"}
    with pytest.raises(ConfigError, match="vector_cache"):
        SqliteStore(str(tmp_path / "v.db"), index=index)


def test_store_of_the_previous_schema_is_migrated(tmp_path: Path) -> None:
    """A file written before vectors had ids (schema version 0) keeps its items and vectors,
    and is searchable after the migration."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    from waypoint.store._sql.sqlite_sql import MIGRATIONS

    with conn:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("CREATE TABLE waypoint_store_migrations (v INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO waypoint_store_migrations VALUES (0)")
        for key, vec in (("x", [1.0, 0.0]), ("y", [0.0, 1.0])):
            conn.execute("INSERT INTO waypoint_store VALUES ('n', ?, '[\"n\"]', ?, 1, 1, NULL, NULL)",
                         (key, '{"t": "%s"}' % key))
            conn.execute("INSERT INTO waypoint_store_vectors VALUES ('n', ?, 0, 't', ?)",
                         (key, np.asarray(vec, dtype="<f4").tobytes()))
    conn.close()
    vecs = {"x": [1.0, 0.0], "y": [0.0, 1.0], "q": [0.2, 1.0]}
    index = {"dims": 2, "embed": lambda texts: [vecs[t] for t in texts], "fields": ["t"]}
    with SqliteStore.from_conn_string(path, index=index) as store:
        assert [i.key for i in store.search(("n",), query="q")] == ["y", "x"]
        columns = [r[1] for r in store.conn.execute("PRAGMA table_info(waypoint_store_vectors)")]
        assert columns[0] == "id"
        store.put(("n",), "z", {"t": "q"})
        assert [i.key for i in store.search(("n",), query="q")] == ["z", "y", "x"]
        assert store.conn.execute("SELECT v FROM waypoint_store_migrations").fetchall() == [(0,), (1,), (2,)]
