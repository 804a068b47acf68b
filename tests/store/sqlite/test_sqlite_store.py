"""SQLite store specifics: SQL injection attempts, matrix vs sqlite-vec vs numpy parity, corrupt rows,
the async store's one-hop batches and its sync face's loop guard."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import sqlean

from waypoint.errors import (
    InvalidFilterError,
    SerializationError,
    SetupError,
    SyncOnEventLoopError,
)
from waypoint.store.base import PutOp, SearchOp
from waypoint.store.sqlite import SqliteStore
from waypoint.store.sqlite.aio import AsyncSqliteStore

NASTY_KEY = "a'); DROP TABLE waypoint_store; --"
NASTY_VALUE = "it's \"quoted\" '); DELETE FROM waypoint_store; --"


def _plain(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, check_same_thread=False, isolation_level=None)


@pytest.mark.parametrize("opener", ["sqlite3", "sqlean"])
def test_filter_injection_attempts_are_harmless_and_match(tmp_path: Path, opener: str) -> None:
    conn = (_plain if opener == "sqlite3" else lambda p: sqlean.connect(
        str(p), check_same_thread=False, isolation_level=None))(tmp_path / "s.db")
    store = SqliteStore(conn)
    store.put(("ns",), "hit", {NASTY_KEY: NASTY_VALUE, "nested": {NASTY_KEY: 1}, "é": "ü"})
    store.put(("ns",), "miss", {NASTY_KEY: "other", "nested": {NASTY_KEY: 2}})
    cases = [
        ({NASTY_KEY: NASTY_VALUE}, ["hit"]),
        ({NASTY_KEY: {"$ne": NASTY_VALUE}}, ["miss"]),
        ({NASTY_KEY: {"$in": [NASTY_VALUE, "x"]}}, ["hit"]),
        ({f"nested.{NASTY_KEY}": {"$gt": 1}}, ["miss"]),
        ({"nested": {NASTY_KEY: 1}}, ["hit"]),
        ({"é": "ü"}, ["hit"]),
    ]
    for flt, expected in cases:
        assert [i.key for i in store.search(("ns",), filter=flt)] == expected, flt
    # Namespace labels with LIKE/GLOB metacharacters are matched literally.
    store.put(("a%", "_b"), "k", {"v": 1})
    store.put(("ab", "cb"), "k", {"v": 2})
    assert [i.value["v"] for i in store.search(("a%",))] == [1]
    assert store.list_namespaces(prefix=("a%", "*")) == [("a%", "_b")]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"waypoint_store", "waypoint_store_vectors"} <= tables
    conn.close()


def test_quote_in_filter_key(tmp_path: Path) -> None:
    """SQLite >= 3.45 (sqlean) addresses any key; older libraries refuse clearly."""
    with SqliteStore.from_conn_string(tmp_path / "new.db", index=None) as store:
        store.conn.close()
        store.conn = sqlean.connect(str(tmp_path / "new.db"), check_same_thread=False,
                                    isolation_level=None)
        store.dialect.with_library((3, 50, 0))
        store.put(("q",), "k", {'say "hi"': 1})
        assert [i.key for i in store.search(("q",), filter={'say "hi"': 1})] == ["k"]
    store = SqliteStore(_plain(tmp_path / "old.db"))
    store.dialect.with_library((3, 40, 1))
    with pytest.raises(InvalidFilterError, match="3.45"):
        store.search(("q",), filter={'say "hi"': 1})


def _random_items(rng: np.random.Generator, n: int, dims: int) -> tuple[list[PutOp], dict]:
    table = {f"t{i}": rng.standard_normal(dims).tolist() for i in range(n)}
    table["zero"] = [0.0] * dims
    ops = []
    for i in range(n):
        ns = ("docs", "a" if i % 3 else "b")
        value = {"text": f"t{i}", "group": i % 4, "extra": [f"t{(i * 7) % n}"]}
        index = ["text", "extra[*]"] if i % 5 == 0 else (False if i % 11 == 0 else None)
        ops.append(PutOp(ns, f"k{i:03d}", value, index))
    ops.append(PutOp(("docs", "a"), "zero", {"text": "zero", "group": 9}))
    return ops, table


def test_matrix_sqlite_vec_and_numpy_rank_identically(tmp_path: Path) -> None:
    """The in-memory matrix (default), sqlite-vec and numpy-per-query rank the same, including
    filters, prefixes, pages past the items with vectors, and writes between searches."""
    rng = np.random.default_rng(3)
    dims = 48
    ops, table = _random_items(rng, 300, dims)
    queries = {f"q{i}": rng.standard_normal(dims).tolist() for i in range(6)}
    embed = lambda texts: [table.get(t) or queries[t] for t in texts]  # noqa: E731
    index = {"dims": dims, "embed": embed, "fields": ["text"]}
    scan = {**index, "vector_cache": False}
    path = tmp_path / "parity.db"
    with SqliteStore.from_conn_string(path, index=index) as mat, \
            SqliteStore.from_conn_string(path, index=scan) as vec:
        assert mat.vector_backend == "matrix" and vec.vector_backend == "sqlite-vec"
        mat.batch(ops)
        conn = _plain(path)
        numpy_store = SqliteStore(conn, index=scan)
        assert numpy_store.vector_backend == "numpy"
        searches = [
            SearchOp(prefix, flt, limit, offset, q)
            for q in queries
            for prefix, flt in [(("docs",), None), (("docs", "a"), {"group": {"$in": [1, 9]}}),
                                (("docs", "b"), {"group": 3})]
            for limit, offset in [(10, 0), (25, 190), (400, 0), (3, 60)]
        ]

        def same(stores: list[SqliteStore]) -> list[list]:
            results = [s.batch(searches) for s in stores]
            for got in results[1:]:
                for x, y in zip(results[0], got, strict=True):
                    assert [(i.namespace, i.key) for i in x] == [(i.namespace, i.key) for i in y]
                    for a, b in zip(x, y, strict=True):
                        assert (a.score is None) == (b.score is None)
                        if a.score is not None:
                            assert abs(a.score - b.score) < 1e-6
            return results[0]

        a = same([mat, vec, numpy_store])
        full, filtered = a[2], a[6]
        assert len(full) == 301 and full[-1].score is None and full[0].score is not None
        assert any(i.key == "zero" and i.score == 0.0 for i in filtered)
        # Another connection deletes and rewrites items: the matrix sees it on its next search.
        vec.batch([PutOp(("docs", "a"), "k001", None), PutOp(("docs", "b"), "k000", None),
                   PutOp(("docs", "a"), "k002", {"text": "t5", "group": 1})])
        mat.put(("docs", "b"), "new", {"text": "t7", "group": 3})
        a = same([mat, vec, numpy_store])
        assert "k001" not in {i.key for r in a for i in r}
        conn.close()


def test_corrupt_value_is_a_clear_error(tmp_path: Path) -> None:
    store = SqliteStore(_plain(tmp_path / "c.db"))
    store.put(("users", "1"), "good", {"v": 1})
    store.put(("users", "1"), "bad", {"v": 2})
    store.put(("users", "1"), "list", {"v": 3})
    store.conn.execute("UPDATE waypoint_store SET value = '{not json' WHERE key = 'bad'")
    store.conn.execute("UPDATE waypoint_store SET value = '[1, 2]' WHERE key = 'list'")
    with pytest.raises(SerializationError) as info:
        store.get(("users", "1"), "bad")
    assert "'bad'" in str(info.value) and "('users', '1')" in str(info.value)
    with pytest.raises(SerializationError, match="'bad' in namespace"):  # SQL JSON fails
        store.search(("users",), filter={"v": {"$gte": 3}})
    store.delete(("users", "1"), "bad")
    with pytest.raises(SerializationError, match="'list'.*not an object"):
        store.search(("users",))
    assert store.get(("users", "1"), "good").value == {"v": 1}


def test_non_json_values_are_refused_before_writing(tmp_path: Path) -> None:
    store = SqliteStore(_plain(tmp_path / "j.db"))
    with pytest.raises(SerializationError, match="'k'.*not JSON"):
        store.batch([PutOp(("n",), "ok", {"v": 1}), PutOp(("n",), "k", {"when": object()})])
    with pytest.raises(SerializationError):
        store.put(("n",), "nan", {"v": float("nan")})
    assert store.search(("n",)) == []


def test_setup_is_idempotent_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = SqliteStore(path)
    store.setup()
    store.setup()
    assert store.conn.execute("SELECT v FROM waypoint_store_migrations").fetchall() == [(0,), (1,), (2,)]
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_changed_dims_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    index = {"dims": 4, "embed": lambda texts: [[1.0, 0, 0, 0] for _ in texts]}
    with SqliteStore.from_conn_string(path, index=index) as store:
        store.put(("n",), "k", {"text": "x"})
    wider = {"dims": 8, "embed": lambda texts: [[1.0] * 8 for _ in texts]}
    with SqliteStore.from_conn_string(path, index=wider) as store:
        with pytest.raises(SetupError, match="4-dimensional"):
            store.setup()


async def test_async_store_runs_a_batch_in_one_hop(tmp_path: Path) -> None:
    async with AsyncSqliteStore.from_conn_string(tmp_path / "a.db") as store:
        await store.asetup()
        hops = 0
        original = store.conn._execute

        async def counting(fn, *args, **kwargs):  # a spy on the real connection
            nonlocal hops
            hops += 1
            return await original(fn, *args, **kwargs)

        store.conn._execute = counting  # type: ignore[method-assign]
        ops = [PutOp(("h",), str(i), {"i": i}) for i in range(50)]
        await store.abatch([*ops, SearchOp(("h",), {"i": {"$lt": 3}})])
        assert hops == 1
        found = await store.asearch(("h",), filter={"i": {"$gte": 48}})
        assert sorted(i.key for i in found) == ["48", "49"] and hops == 2


async def test_async_store_sync_face_refuses_on_its_loop(tmp_path: Path) -> None:
    async with AsyncSqliteStore.from_conn_string(tmp_path / "l.db") as store:
        await store.aput(("n",), "k", {"v": 1})
        for call in (lambda: store.get(("n",), "k"), lambda: store.put(("n",), "k", {"v": 2}),
                     lambda: store.search(("n",)), store.sweep_ttl):
            with pytest.raises(SyncOnEventLoopError):
                call()
        item = await asyncio.to_thread(store.get, ("n",), "k")
        assert item.value == {"v": 1}


def test_list_namespaces_max_depth_keeps_a_legacy_label_with_nul() -> None:
    """Issue 19 #4: a label holding NUL, written before NUL was refused, is listed whole at
    every max_depth (SQLite's JSON functions cut such a label at the NUL)."""
    import json
    import sqlite3

    from waypoint.store.sqlite import SqliteStore

    store = SqliteStore(sqlite3.connect(":memory:", check_same_thread=False))
    store.setup()
    store.put(("a",), "k", {"v": 1})
    store.put(("b", "c", "d"), "k", {"v": 1})
    created, updated = store.conn.execute("SELECT created_at, updated_at FROM waypoint_store").fetchone()
    with store.conn:  # the row an earlier version wrote for put(("a\x00b", "c"), "k", {})
        store.conn.execute(
            "INSERT INTO waypoint_store (prefix, key, labels, value, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", ("a\x00b.c", "k", json.dumps(["a\x00b", "c"]), "{}", created, updated))
    assert store.list_namespaces(max_depth=1) == [("a",), ("a\x00b",), ("b",)]
    assert store.list_namespaces(max_depth=2) == [("a",), ("a\x00b", "c"), ("b", "c")]
    assert store.list_namespaces(max_depth=1, limit=1, offset=1) == [("a\x00b",)]
    assert store.list_namespaces() == [("a",), ("a\x00b", "c"), ("b", "c", "d")]


def test_listing_through_the_recency_index_matches_the_sorted_listing(tmp_path: Path, monkeypatch) -> None:
    """A prefix holding >= RECENT_SCAN items is listed by walking the updated_at index; pages,
    filters, ties (one timestamp per batch) and expiry come out exactly as a full sort."""
    from waypoint.store._sql import core

    store = SqliteStore(_plain(tmp_path / "r.db"))
    for b in range(6):
        store.batch([PutOp(("r", f"n{i % 3}"), f"k{i:04d}", {"i": i, "c": i % 7}, None,
                           ttl=0.001 if i % 50 == 0 else None) for i in range(b * 300, b * 300 + 300)])
    store.put(("other",), "k", {"i": -1, "c": 1})
    import time as _time
    _time.sleep(0.1)  # the items put with ttl=0.001 (0.06 s) expire
    searches = [SearchOp(p, f, limit, offset) for p in [("r",), (), ("r", "n1")]
                for f in [None, {"c": 3}, {"c": {"$gt": 5}}, {"i": 1799}]
                for limit, offset in [(10, 0), (7, 295), (50, 580), (1, 1790)]]
    calls = []
    original = core.ranking.plain
    monkeypatch.setattr(core.ranking, "plain", lambda *a, **k: calls.append(a[-1] if len(a) > 5 else None) or original(*a, **k))
    fast = store.batch(searches)
    assert "waypoint_store AS s INDEXED BY waypoint_store_updated_at" in calls
    monkeypatch.setattr(core, "RECENT_SCAN", 10**9)
    slow = store.batch(searches)
    assert [[(i.namespace, i.key) for i in r] for r in fast] == [[(i.namespace, i.key) for i in r] for r in slow]
    assert any(len(r) == 10 for r in fast) and not any(i.value["i"] % 50 == 0 for r in fast for i in r)


def test_new_file_gets_8k_pages_existing_file_keeps_its_size(tmp_path: Path) -> None:
    """A database the store creates uses 8 KiB pages (five 384-dim vectors per page); a file
    that already has pages keeps its size and its items stay readable and writable, vectors
    and multi-row batches included."""
    def embed(texts: list[str]) -> list[list[float]]:
        return [[float(len(t)), 1.0, float(i % 3)] for i, t in enumerate(texts)]

    index = {"dims": 3, "embed": embed, "fields": ["text"]}
    with SqliteStore.from_conn_string(tmp_path / "new.db", index=index) as store:
        store.put(("ns",), "a", {"text": "abc"})
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 8192

    old = _plain(tmp_path / "old.db")
    old.execute("PRAGMA page_size = 4096")
    old.execute("CREATE TABLE unrelated (x)")
    old.close()
    with SqliteStore.from_conn_string(tmp_path / "old.db", index=index) as store:
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        store.batch([PutOp(("ns",), f"k{i}", {"text": "t" * (i % 7)}) for i in range(300)])
        store.batch([PutOp(("ns",), f"k{i}", {"text": "u" * (i % 5)}) for i in range(0, 300, 2)])
        assert store.get(("ns",), "k2").value == {"text": "uu"}
        assert store.get(("ns",), "k3").value == {"text": "ttt"}
        vectors = store.conn.execute("SELECT count(*) FROM waypoint_store_vectors").fetchone()[0]
        assert vectors == sum(1 for i in range(300) if (i % 5 if i % 2 == 0 else i % 7))
        hits = store.search(("ns",), query="uuuu", limit=300)
        assert len(hits) == 300
