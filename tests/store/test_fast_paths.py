"""The store's hot paths give the same results and errors as the reference code they bypass."""

from __future__ import annotations

import copy
import pickle
import sqlite3
from typing import Any

import numpy as np
import pytest

from waypoint.errors import ConfigError, InvalidNamespaceError, SetupError
from waypoint.store._batch import checked, plan_batch
from waypoint.store._embed import normalize_index
from waypoint.store._filters import compile_filter, matches, predicate
from waypoint.store.base import GetOp, ListNamespacesOp, PutOp, SearchOp
from waypoint.store.memory import InMemoryStore


def test_checked_ops_look_like_plain_ops():
    op = checked(GetOp, ("a",), "k", True)
    plain = GetOp(("a",), "k", True)
    assert op == plain and hash(op) == hash(plain) and isinstance(op, GetOp)
    assert repr(op) == repr(plain)
    assert type(pickle.loads(pickle.dumps(op))) is GetOp
    assert type(copy.deepcopy(op)) is GetOp
    assert type(op._replace(key="j")) is GetOp


def test_checked_validates_and_plan_batch_still_validates_plain_ops():
    with pytest.raises(InvalidNamespaceError):
        checked(PutOp, ("waypoint",), "k", {})
    with pytest.raises(ValueError, match="limit"):
        checked(SearchOp, ("a",), None, -1)
    with pytest.raises(ValueError, match="max_depth"):
        checked(ListNamespacesOp, None, 0)
    # a checked op whose fields are replaced is a plain op again, so it is checked again
    op = checked(GetOp, ("a",), "k", True)._replace(namespace=("a.b",))
    with pytest.raises(InvalidNamespaceError):
        plan_batch([op], None)
    with pytest.raises(InvalidNamespaceError):
        plan_batch([GetOp(("a", ""), "k")], None)


FILTERS: list[dict[str, Any]] = [
    {"s": "x"}, {"s": 1}, {"n": 1}, {"n": 1.0}, {"n": True}, {"f": 2.5}, {"a.b": "x"},
    {"n": {"$gt": 0}}, {"s": "x", "n": 1}, {"l": [1, 2]}, {"missing": "x"}, {"s": None},
]
VALUES: list[dict[str, Any]] = [
    {"s": "x", "n": 1, "f": 2.5, "a": {"b": "x"}, "l": [1, 2]},
    {"s": "y", "n": 1.0, "f": 2, "a": {"b": 1}},
    {"s": 1, "n": True, "f": "2.5", "a": "x"},
    {"s": None, "n": 2**70, "f": float("nan")},
    {},
]


@pytest.mark.parametrize("filter", FILTERS, ids=repr)
def test_predicate_matches_the_reference_matcher(filter):
    conditions = compile_filter(filter)
    test = predicate(conditions)
    for value in VALUES:
        assert test(value) == matches(conditions, value), value


def _spec(dims: int = 2) -> Any:
    return normalize_index({"dims": dims, "embed": lambda texts: [[1.0] * dims for _ in texts]})


@pytest.mark.parametrize(
    "vectors",
    [[[1.0, 2.0]], [[1, 2]], np.array([[1.0, 2.0]], dtype=np.float32), [np.array([1.0, 2.0])],
     [["1.5", 2]]],
    ids=["floats", "ints", "array", "rows", "strings"],
)
def test_vector_check_fast_path_gives_the_numbers_of_the_slow_path(vectors):
    rows = _spec().check(vectors, 1, "documents")
    assert [[float(x) for x in row] for row in rows] == [[float(x) for x in v] for v in vectors]


@pytest.mark.parametrize(
    "vectors, error",
    [([[None, 1.0]], ConfigError), ([[1.0]], ConfigError), ([[1.0, 2.0], [3.0]], ConfigError),
     ([[1.0, 2.0, 3.0]], ConfigError), (5, ConfigError)],
)
def test_vector_check_errors_are_unchanged(vectors, error):
    with pytest.raises(error):
        _spec().check(vectors, 1 if not isinstance(vectors, list) else len(vectors), "documents")


def test_memory_reads_never_alias_stored_values():
    store = InMemoryStore()
    store.put(("a",), "flat", {"x": 1})
    store.put(("a",), "deep", {"x": {"y": [1]}})
    for key in ("flat", "deep"):
        item = store.get(("a",), key)
        assert item is not None
        item.value["x"] = "changed"
        hit = store.search(("a",), filter={"x": "changed"})
        assert hit == []
    deep = store.get(("a",), "deep")
    assert deep is not None
    deep_hit = store.search(("a",))[0]
    deep.value["x"]["y"].append(2)
    deep_hit.value["x"] = None
    assert store.get(("a",), "deep").value == {"x": {"y": [1]}}  # type: ignore[union-attr]


def test_sqlite_single_get_refuses_a_connection_inside_a_transaction(tmp_path):
    from waypoint.store.sqlite import SqliteStore

    conn = sqlite3.connect(str(tmp_path / "s.db"), check_same_thread=False, isolation_level=None)
    try:
        store = SqliteStore(conn)
        store.put(("a",), "k", {"v": 1})
        assert store.get(("a",), "k").value == {"v": 1}  # type: ignore[union-attr]
        conn.execute("BEGIN")
        with pytest.raises(SetupError, match="open transaction"):
            store.get(("a",), "k")
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_sqlite_single_get_refreshes_ttl(tmp_path):
    from waypoint.store.sqlite import SqliteStore

    path = str(tmp_path / "t.db")
    with SqliteStore.from_conn_string(path, ttl_config={"default_ttl": 1}) as store:
        store.put(("a",), "k", {"v": 1})
        before = store.conn.execute("SELECT expires_at FROM waypoint_store").fetchone()[0]
        assert store.get(("a",), "k", refresh_ttl=True) is not None
        after = store.conn.execute("SELECT expires_at FROM waypoint_store").fetchone()[0]
        assert after >= before and not store.conn.in_transaction


def _embed(texts: list[str]) -> list[list[float]]:
    """Deterministic 3-d vectors with deliberate ties (texts of one letter share a vector)."""
    return [[float(ord(t[0]) % 5), float(len(t) % 3), 1.0] for t in texts]


def test_sqlite_vec_join_ranking_equals_the_subquery_ranking(tmp_path, monkeypatch):
    from waypoint.store._sql.sqlite_sql import SqliteDialect
    from waypoint.store.sqlite import SqliteStore

    index = {"dims": 3, "embed": _embed, "fields": ["text", "tags[*]"], "vector_cache": False}
    with SqliteStore.from_conn_string(str(tmp_path / "v.db"), index=index) as store:
        assert store.vector_backend == "sqlite-vec"
        for i in range(30):
            value = {"text": "abcde"[i % 5] * (1 + i % 4), "tags": ["x" * (i % 3), "q"][: i % 3],
                     "n": i % 4}
            store.put(("docs", str(i % 2)), f"k{i}", value, index=False if i % 7 == 0 else None)
        queries = [("aa", None), ("c", {"n": 1}), ("zzz", {"n": {"$gte": 2}})]
        pages = [(0, 10), (3, 5), (20, 10), (26, 10), (40, 5), (0, 0), (0, 100)]

        def run() -> list[Any]:
            return [
                [(it.namespace, it.key, it.score) for it in store.search(
                    (), query=q, filter=f, limit=limit, offset=offset)]
                for q, f in queries for offset, limit in pages
            ]

        joined = run()
        monkeypatch.setattr(SqliteDialect, "joined_score", lambda self, query: None)
        assert run() == joined


def test_memory_get_validates_and_a_batch_override_still_sees_gets():
    store = InMemoryStore()
    store.put(("a",), "k", {"x": 1})
    with pytest.raises(InvalidNamespaceError):
        store.get(("a", ""), "k")
    assert store.get(("a",), "k").value == {"x": 1}  # type: ignore[union-attr]

    seen: list[Any] = []

    class Recording(InMemoryStore):
        def batch(self, ops):  # type: ignore[no-untyped-def]
            ops = list(ops)
            seen.extend(ops)
            return super().batch(ops)

    recording = Recording()
    recording.put(("a",), "k", {"x": 2})
    assert recording.get(("a",), "k").value == {"x": 2}  # type: ignore[union-attr]
    assert [type(op).__name__ for op in seen][-1].endswith("GetOp")
