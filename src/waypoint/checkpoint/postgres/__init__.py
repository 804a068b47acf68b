"""PostgresSaver: checkpoints in PostgreSQL through psycopg 3.

    with PostgresSaver.from_conn_string("postgresql://user@host/db") as saver:
        graph = builder.compile(checkpointer=saver)

Accepts a ``psycopg.Connection`` (shared across threads under a lock) or a
``psycopg_pool.ConnectionPool``. ``autocommit=True`` is recommended; other settings are
handled (see ``_driver``). The schema is created on first use or by ``setup()``, serialized
across processes by an advisory lock. ``get_tuple`` is one round trip; ``put`` writes its
checkpoint, blobs and log pages in one pipelined transaction. The async face runs each
operation in a worker thread; ``AsyncPostgresSaver`` (``aio``) is the native async twin.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from waypoint._ops import Op, stream
from waypoint._pg import borrow, require
from waypoint.checkpoint._sql.postgres_sql import POSTGRES
from waypoint.checkpoint._sql.saver import SqlSaver, ThreadedAsyncFace
from waypoint.checkpoint.postgres._driver import read_one, run_op
from waypoint.checkpoint.serde.base import SerializerProtocol


class PostgresSaver(ThreadedAsyncFace, SqlSaver):
    """A checkpoint saver over a psycopg ``Connection`` or ``ConnectionPool``."""

    dialect = POSTGRES

    def __init__(self, conn: Any, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        require(conn, True, "PostgresSaver", "AsyncPostgresSaver (waypoint.checkpoint.postgres.aio)")
        self.conn = conn
        self.lock = threading.RLock()
        self._conninfo: str | None = None

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str, *, serde: SerializerProtocol | None = None) -> Iterator["PostgresSaver"]:
        """A saver on its own autocommit connection, closed on exit (a forked child that uses
        the saver reconnects with the same string)."""
        saver = cls(psycopg.Connection.connect(conn_string, autocommit=True), serde=serde)
        saver._conninfo = conn_string
        try:
            yield saver
        finally:
            if not saver._forked:  # never close the parent's connection from a child
                saver.conn.close()

    def _after_fork(self) -> None:
        """In a forked child: reconnect when the saver opened its own connection."""
        if self._conninfo is None:
            super()._after_fork()
        self.conn = psycopg.Connection.connect(self._conninfo, autocommit=True)

    def _run(self, op: Op[Any], mode: str, what: str) -> Any:
        with borrow(self.conn, self.lock) as conn:
            return run_op(conn, op, mode)

    def _stream(self, op: Op[Any], what: str) -> Iterator[Any]:
        return stream(op, self._read_one)

    def _read_one(self, request: Any) -> Any:
        with borrow(self.conn, self.lock) as conn:
            return read_one(conn, request)


__all__ = ["PostgresSaver"]
