"""SqliteStore: long-term memory in a SQLite file.

    with SqliteStore.from_conn_string("memory.db", index={"dims": 384, "embed": embed}) as store:
        store.put(("users", "42"), "prefs", {"theme": "dark"})

Filters, namespace prefixes, ordering and pagination run in SQL (JSON1 functions, every key and
value a bound parameter); a listing under a prefix of 1,000+ items walks an ``updated_at`` index
and stops after the page. With an ``index``, ``search(query=...)`` is exact cosine KNN after the
prefix and filter, scored from an in-memory float32 copy of the vectors that each search brings
up to date with one indexed query (``index={..., "vector_cache": False}`` scores in SQL with
sqlite-vec instead, or in numpy per query where sqlite-vec cannot load). With
``index={..., "hybrid": True}`` an FTS5 table keeps each item's embedded text for
``mode="keyword"`` (``-bm25()``) and ``mode="hybrid"`` (reciprocal rank fusion).
``from_conn_string`` opens the file with ``sqlean`` when installed. The schema is created or
migrated on first use or by ``setup()``; the file runs in WAL mode with a 30 s busy timeout.
``AsyncSqliteStore`` (``aio``) is the aiosqlite twin. SQL lives in ``waypoint.store._sql``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from typing import Any

from waypoint._ops import Op
from waypoint.store._hybrid import keyword_language
from waypoint.store._items import IndexConfig, TTLConfig
from waypoint.store._sql.sqlite_sql import SqliteDialect
from waypoint.store._sql.store import ThreadedStore
from waypoint.store._ttl import pick_ttl_config, sweeper_stopped
from waypoint._sqlite import database_file
from waypoint.store.sqlite._driver import open_connection, prepare, run_op, vector_backend, vector_cache_option

__all__ = ["AsyncSqliteStore", "SqliteStore"]


def __getattr__(name: str) -> Any:
    if name == "AsyncSqliteStore":  # LangGraph's import path; loaded lazily (needs aiosqlite)
        from waypoint.store.sqlite.aio import AsyncSqliteStore

        return AsyncSqliteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class SqliteStore(ThreadedStore):
    """A store over one SQLite connection, safe to share across threads.

    ``conn``: an open ``sqlite3`` (or ``sqlean``) connection created with
    ``check_same_thread=False``, or a path (the store then opens and owns the connection).
    ``index``: an ``IndexConfig`` for semantic search; ``ttl``: a ``TTLConfig`` (LangGraph's
    name; ``ttl_config=`` is accepted too).
    """

    def __init__(
        self,
        conn: Any,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        ttl_config: TTLConfig | None = None,
    ) -> None:
        self._configure(index, pick_ttl_config(ttl, ttl_config))
        self._vector_cache = vector_cache_option(index)
        self._owns = isinstance(conn, (str, PathLike))
        if self._owns:
            conn = open_connection(conn, extensions=index is not None)
        self.conn = conn
        self.lock = threading.RLock()
        self._path = database_file(conn)
        version, strategy = prepare(conn, vectors=self._index is not None, cache=self._vector_cache)
        dims = self._index.dims if self._index else None
        self.dialect = SqliteDialect(vector_strategy=strategy, dims=dims,
                                     language=keyword_language(self.index_config)).with_library(version)

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        conn_string: str | PathLike[str],
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        ttl_config: TTLConfig | None = None,
    ) -> Iterator["SqliteStore"]:
        """A store on its own connection to the file ``conn_string`` (``":memory:"``
        allowed), closed on exit; opened with ``sqlean`` (so sqlite-vec can load) when
        ``index`` is given."""
        config = pick_ttl_config(ttl, ttl_config)
        conn = open_connection(conn_string, extensions=index is not None)
        try:
            with sweeper_stopped(cls(conn, index=index, ttl=config)) as store:
                yield store
        finally:
            conn.close()

    @property
    def vector_backend(self) -> str | None:
        """How queries are scored: ``"matrix"`` (in-memory copy, the default), ``"sqlite-vec"``
        or ``"numpy"`` (with ``"vector_cache": False``), or None without an index."""
        return vector_backend(self.dialect)

    def _after_fork(self) -> None:
        """In a forked child: reopen the same file (SQLite connections must not cross a fork)."""
        if not self._path:
            super()._after_fork()
        self.conn = open_connection(self._path, extensions=self._index is not None)
        prepare(self.conn, vectors=self._index is not None, cache=self._vector_cache)
        self._owns = True

    def close(self) -> None:
        """Stop the sweeper and close the connection if the store opened it."""
        self.stop_ttl_sweeper(timeout=5)
        if self._owns:
            self.conn.close()

    def __enter__(self) -> "SqliteStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self, op: Op[Any], mode: str) -> Any:
        with self.lock:
            return run_op(self.conn, op, mode, self.dialect)
