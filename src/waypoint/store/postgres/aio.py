"""AsyncPostgresStore: the PostgreSQL store on psycopg's native asyncio client.

    async with AsyncPostgresStore.from_conn_string(url, index=...) as store:
        await store.aput(("users", "42"), "prefs", {"theme": "dark"})

Accepts a ``psycopg.AsyncConnection`` (shared by tasks under an asyncio lock) or a
``psycopg_pool.AsyncConnectionPool``; configuration as ``PostgresStore``. The sync face waits on
the store's event loop from other threads and refuses with SyncOnEventLoopError on the loop's
own thread, for every method.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg

from waypoint._bridge import running_loop
from waypoint._ops import Op
from waypoint._pg import aborrow, require
from waypoint.store._items import IndexConfig, TTLConfig
from waypoint.store._sql.postgres_sql import PostgresDialect
from waypoint.store._sql.store import BridgedStore
from waypoint.store._ttl import asweeper_stopped, pick_ttl_config
from waypoint.store.postgres._driver import arun_op
from waypoint.store.postgres._pool import PoolConfig, pool_arguments

__all__ = ["AsyncPostgresStore"]


class AsyncPostgresStore(BridgedStore):
    """A store over a psycopg ``AsyncConnection`` or ``AsyncConnectionPool`` (arguments as
    ``PostgresStore``)."""

    def __init__(
        self,
        conn: Any,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        ttl_config: TTLConfig | None = None,
        pipeline: bool = True,
    ) -> None:
        require(conn, False, "AsyncPostgresStore", "PostgresStore (waypoint.store.postgres)")
        self._configure(index, pick_ttl_config(ttl, ttl_config))
        self.dialect = PostgresDialect(self.index_config)
        self.conn = conn
        self.pipeline = bool(pipeline)
        self._lock: asyncio.Lock | None = None
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls,
        conn_string: str,
        *,
        pipeline: bool = True,
        pool_config: PoolConfig | None = None,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        ttl_config: TTLConfig | None = None,
    ) -> AsyncIterator["AsyncPostgresStore"]:
        """A store on its own autocommit connection, or on a
        ``psycopg_pool.AsyncConnectionPool`` built from ``pool_config``, closed on exit."""
        config = pick_ttl_config(ttl, ttl_config)
        if pool_config is not None:
            from psycopg_pool import AsyncConnectionPool

            async with AsyncConnectionPool(
                conn_string, **pool_arguments(pool_config)
            ) as pool, asweeper_stopped(
                cls(pool, index=index, ttl=config, pipeline=pipeline)
            ) as store:
                yield store
            return
        async with await psycopg.AsyncConnection.connect(
            conn_string, autocommit=True
        ) as conn, asweeper_stopped(cls(conn, index=index, ttl=config, pipeline=pipeline)) as store:
            yield store

    async def _arun(self, op: Op[Any], mode: str) -> Any:
        self._bind_loop()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with aborrow(self.conn, self._lock) as conn:
            return await arun_op(conn, op, mode, self.pipeline)
