"""AsyncPostgresSaver: the PostgreSQL saver on psycopg's native asyncio client.

    async with AsyncPostgresSaver.from_conn_string(url) as saver:
        graph = builder.compile(checkpointer=saver)

Accepts a ``psycopg.AsyncConnection`` (shared by tasks under an asyncio lock) or a
``psycopg_pool.AsyncConnectionPool``. The sync face waits on the saver's event loop from other
threads and refuses with SyncOnEventLoopError on the loop's own thread, for every method.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg

from waypoint._bridge import running_loop
from waypoint._ops import Op, astream
from waypoint._pg import aborrow, require
from waypoint.checkpoint._sql.postgres_sql import POSTGRES
from waypoint.checkpoint._sql.saver import BridgedSyncFace, SqlSaver
from waypoint.checkpoint.postgres._driver import aread_one, arun_op
from waypoint.checkpoint.serde.base import SerializerProtocol


class AsyncPostgresSaver(BridgedSyncFace, SqlSaver):
    """A checkpoint saver over a psycopg ``AsyncConnection`` or ``AsyncConnectionPool``."""

    dialect = POSTGRES

    def __init__(self, conn: Any, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        require(conn, False, "AsyncPostgresSaver", "PostgresSaver (waypoint.checkpoint.postgres)")
        self.conn = conn
        self._lock: asyncio.Lock | None = None
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conn_string: str, *, serde: SerializerProtocol | None = None
    ) -> AsyncIterator["AsyncPostgresSaver"]:
        """A saver on its own autocommit connection, closed on exit."""
        async with await psycopg.AsyncConnection.connect(conn_string, autocommit=True) as conn:
            yield cls(conn, serde=serde)

    def _conn_lock(self) -> asyncio.Lock:
        self._bind_loop()
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _arun(self, op: Op[Any], mode: str) -> Any:
        async with aborrow(self.conn, self._conn_lock()) as conn:
            return await arun_op(conn, op, mode)

    def _astream(self, op: Op[Any]) -> AsyncIterator[Any]:
        return astream(op, self._aread_one)

    async def _aread_one(self, request: Any) -> Any:
        async with aborrow(self.conn, self._conn_lock()) as conn:
            return await aread_one(conn, request)


__all__ = ["AsyncPostgresSaver"]
