"""AsyncSqliteSaver: the SQLite saver over an ``aiosqlite`` connection.

    async with AsyncSqliteSaver.from_conn_string("checkpoints.db") as saver:
        graph = builder.compile(checkpointer=saver)

aiosqlite runs one thread per connection. Each operation (a whole ``put`` with its blobs and
log pages, a ``get_tuple``, ...) runs on that thread in a single hop, not one hop per
statement; a listing hops once per page of results. The sync face waits on the event loop from
other threads and refuses (SyncOnEventLoopError) on the loop's own thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from os import PathLike
from typing import Any

import aiosqlite

from waypoint._bridge import running_loop
from waypoint._ops import Op
from waypoint._sqlite import hop, open_connection
from waypoint.checkpoint._sql.ops import LIST_PAGE
from waypoint.checkpoint._sql.saver import BridgedSyncFace, SqlSaver, take
from waypoint.checkpoint._sql.sqlite_sql import SQLITE
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.checkpoint.sqlite._driver import configure, execute, run_op, stream_op


class AsyncSqliteSaver(BridgedSyncFace, SqlSaver):
    """A checkpoint saver over one ``aiosqlite.Connection``."""

    dialect = SQLITE

    def __init__(self, conn: aiosqlite.Connection, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self.conn = conn
        self._configured = False
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, path: str | PathLike[str], *, serde: SerializerProtocol | None = None
    ) -> AsyncIterator["AsyncSqliteSaver"]:
        """A saver on its own aiosqlite connection to ``path``, closed on exit."""
        # the same SQLite library as every other waypoint connection (see open_connection)
        async with aiosqlite.Connection(lambda: open_connection(path), iter_chunk_size=64) as conn:
            yield cls(conn, serde=serde)

    async def _hop(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(sqlite3_connection, *args)`` on the connection's own thread."""
        self._bind_loop()

        def call(raw: sqlite3.Connection) -> Any:
            if not self._configured:
                configure(raw)
                self._configured = True
            return fn(raw, *args)

        return await hop(self.conn, call)

    async def _arun(self, op: Op[Any], mode: str) -> Any:
        return await self._hop(run_op, op, mode)

    async def _astream(self, op: Op[Any]) -> AsyncIterator[Any]:
        holder: list[Iterator[Any]] = []

        def page(raw: sqlite3.Connection) -> list[Any]:
            if not holder:
                holder.append(stream_op(op, lambda req: execute(raw, req)))
            return take(holder[0], LIST_PAGE)

        try:
            while True:
                batch = await self._hop(page)
                for item in batch:
                    yield item
                if len(batch) < LIST_PAGE:
                    return
        finally:
            if holder:
                await self._hop(lambda raw: holder[0].close())  # type: ignore[attr-defined]


__all__ = ["AsyncSqliteSaver"]
