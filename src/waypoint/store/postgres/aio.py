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

from waypoint._ops import Op
from waypoint.errors import SetupError
from waypoint.store._items import IndexConfig, TTLConfig
from waypoint.store._sql.postgres_sql import PostgresDialect
from waypoint.store._sql.store import BridgedStore
from waypoint.store.postgres._driver import aborrow, arun_op

__all__ = ["AsyncPostgresStore"]


class AsyncPostgresStore(BridgedStore):
    """A store over a psycopg ``AsyncConnection`` or ``AsyncConnectionPool``."""

    def __init__(
        self,
        conn: Any,
        *,
        index: IndexConfig | None = None,
        ttl_config: TTLConfig | None = None,
    ) -> None:
        if isinstance(conn, psycopg.Connection) or not (
            isinstance(conn, psycopg.AsyncConnection) or hasattr(conn, "connection")
        ):
            raise SetupError(
                f"AsyncPostgresStore needs a psycopg.AsyncConnection or "
                f"psycopg_pool.AsyncConnectionPool, got {type(conn).__name__}; for a sync "
                "connection use PostgresStore (waypoint.store.postgres)"
            )
        self._configure(index, ttl_config)
        self.dialect = PostgresDialect(self.index_config)
        self.conn = conn
        self._lock: asyncio.Lock | None = None
        try:
            self.loop = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls,
        conn_string: str,
        *,
        index: IndexConfig | None = None,
        ttl_config: TTLConfig | None = None,
    ) -> AsyncIterator["AsyncPostgresStore"]:
        """A store on its own autocommit connection, closed on exit."""
        async with await psycopg.AsyncConnection.connect(conn_string, autocommit=True) as conn:
            store = cls(conn, index=index, ttl_config=ttl_config)
            try:
                yield store
            finally:
                await store.stop_ttl_sweeper(timeout=5)

    async def _arun(self, op: Op[Any], mode: str) -> Any:
        self._bind_loop()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with aborrow(self.conn, self._lock) as conn:
            return await arun_op(conn, op, mode)
