"""AsyncSqliteStore: the SQLite store over an ``aiosqlite`` connection.

    async with AsyncSqliteStore.from_conn_string("memory.db", index=...) as store:
        await store.aput(("users", "42"), "prefs", {"theme": "dark"})

aiosqlite runs one thread per connection. Each batch runs on that thread in a single hop (the
whole operation: every statement, the numpy scoring, the commit), never one hop per statement.
``from_conn_string`` opens the file with ``sqlean`` when an index is configured so sqlite-vec
can load, exactly like ``SqliteStore``. The sync face waits on the store's event loop from other
threads and refuses with SyncOnEventLoopError on the loop's own thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from os import PathLike
from typing import Any

import aiosqlite

from waypoint._bridge import running_loop
from waypoint._ops import Op
from waypoint._sqlite import hop
from waypoint.errors import SetupError
from waypoint.store._hybrid import keyword_language
from waypoint.store._items import IndexConfig, TTLConfig
from waypoint.store._sql.sqlite_sql import SqliteDialect
from waypoint.store._sql.store import BridgedStore
from waypoint.store._ttl import asweeper_stopped, pick_ttl_config
from waypoint.store.sqlite._driver import open_connection, prepare, run_op, vector_backend, vector_cache_option

__all__ = ["AsyncSqliteStore"]


class AsyncSqliteStore(BridgedStore):
    """A store over one ``aiosqlite.Connection`` (``index``/``ttl`` as ``SqliteStore``)."""

    def __init__(
        self,
        conn: aiosqlite.Connection,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        ttl_config: TTLConfig | None = None,
    ) -> None:
        if not isinstance(conn, aiosqlite.Connection):
            raise SetupError(
                f"AsyncSqliteStore needs an aiosqlite.Connection, got {type(conn).__name__}; "
                "for a sqlite3 connection use SqliteStore"
            )
        self._configure(index, pick_ttl_config(ttl, ttl_config))
        self._vector_cache = vector_cache_option(index)
        self.conn = conn
        self._prepared = False
        self.dialect = SqliteDialect(dims=self._index.dims if self._index else None,
                                     language=keyword_language(self.index_config))
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls,
        conn_string: str | PathLike[str],
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        ttl_config: TTLConfig | None = None,
    ) -> AsyncIterator["AsyncSqliteStore"]:
        """A store on its own aiosqlite connection to the file ``conn_string``, closed on
        exit; opened with ``sqlean`` (so sqlite-vec can load) when ``index`` is given."""
        config = pick_ttl_config(ttl, ttl_config)
        conn = aiosqlite.Connection(
            lambda: open_connection(conn_string, extensions=index is not None), iter_chunk_size=64
        )
        async with conn, asweeper_stopped(cls(conn, index=index, ttl=config)) as store:
            yield store

    @property
    def vector_backend(self) -> str | None:
        """How queries are scored (as ``SqliteStore.vector_backend``); known after first use."""
        return vector_backend(self.dialect)

    async def _arun(self, op: Op[Any], mode: str) -> Any:
        self._bind_loop()

        def call(raw: Any) -> Any:
            if not self._prepared:
                version, strategy = prepare(raw, vectors=self._index is not None,
                                            cache=self._vector_cache)
                self.dialect.vector_strategy = strategy
                self.dialect.with_library(version)
                self._prepared = True
            return run_op(raw, op, mode, self.dialect)

        return await hop(self.conn, call)
