"""Registers the SQLite stores with the store conformance suite.

``sqlite-store`` and ``sqlite-store-async`` open their file through ``from_conn_string`` and rank
queries from the in-memory vector matrix (the default); ``sqlite-store-numpy`` hands the store a
stdlib ``sqlite3`` connection with ``"vector_cache": False``, so the vectors are fetched per query
and scored in numpy (sqlite-vec, the same option on a sqlean connection, is checked against both
in tests/store/sqlite).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from waypoint.store.sqlite import SqliteStore
from waypoint.store.sqlite.aio import AsyncSqliteStore


@asynccontextmanager
async def _tmpdir() -> AsyncIterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="wp-sqlite-store-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@asynccontextmanager
async def _sqlite(**kwargs: Any) -> AsyncIterator[SqliteStore]:
    async with _tmpdir() as tmp:
        with SqliteStore.from_conn_string(tmp / "store.db", **kwargs) as store:
            store.setup()
            if "index" in kwargs:
                assert store.vector_backend == "matrix"
            yield store


@asynccontextmanager
async def _sqlite_numpy(**kwargs: Any) -> AsyncIterator[SqliteStore]:
    async with _tmpdir() as tmp:
        conn = sqlite3.connect(tmp / "store.db", check_same_thread=False, isolation_level=None)
        if "index" in kwargs:
            kwargs = {**kwargs, "index": {**kwargs["index"], "vector_cache": False}}
        store = SqliteStore(conn, **kwargs)
        try:
            store.setup()
            if "index" in kwargs:
                assert store.vector_backend == "numpy"
            yield store
        finally:
            store.stop_ttl_sweeper(timeout=5)
            conn.close()


@asynccontextmanager
async def _sqlite_async(**kwargs: Any) -> AsyncIterator[AsyncSqliteStore]:
    async with _tmpdir() as tmp:
        async with AsyncSqliteStore.from_conn_string(tmp / "store.db", **kwargs) as store:
            await store.asetup()
            yield store


def store_factories() -> dict[str, Any]:
    return {
        "sqlite-store": _sqlite,
        "sqlite-store-async": _sqlite_async,
        "sqlite-store-numpy": _sqlite_numpy,
    }
