"""SqliteSaver: checkpoints in a SQLite file (the default durable backend).

    with SqliteSaver.from_conn_string("checkpoints.db") as saver:
        graph = builder.compile(checkpointer=saver)

The schema is created on first use (or by ``setup()``); the file runs in WAL mode with a 30 s
busy timeout, so several processes can write different threads of one file at once. Every
``put`` commits its checkpoint, blobs and log pages in one ``BEGIN IMMEDIATE`` transaction.
The async face runs each operation in a worker thread; ``AsyncSqliteSaver`` (``aio``) is the
aiosqlite-based twin. Queries live once in ``waypoint.checkpoint._sql``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from typing import Any

from waypoint._ops import Op
from waypoint.checkpoint._sql.saver import SqlSaver, ThreadedAsyncFace
from waypoint.checkpoint._sql.sqlite_sql import SQLITE
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint._sqlite import CONNECTION_TYPES, database_file
from waypoint.checkpoint.sqlite._driver import configure, connect, execute, run_op, stream_op


class SqliteSaver(ThreadedAsyncFace, SqlSaver):
    """A checkpoint saver over one ``sqlite3`` connection, safe to share across threads.

    ``conn`` is a path (the saver opens and owns the connection) or an open
    ``sqlite3.Connection`` created with ``check_same_thread=False``.
    """

    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection | str | PathLike[str], *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self._owns = not isinstance(conn, CONNECTION_TYPES)
        if isinstance(conn, CONNECTION_TYPES):
            configure(conn)
        else:
            conn = connect(conn)
        self.conn: sqlite3.Connection = conn
        self.lock = threading.RLock()
        self._path = database_file(conn)

    @classmethod
    @contextmanager
    def from_conn_string(cls, path: str | PathLike[str], *, serde: SerializerProtocol | None = None) -> Iterator["SqliteSaver"]:
        """A saver on its own connection to ``path`` (``":memory:"`` allowed), closed on exit."""
        conn = connect(path)
        try:
            yield cls(conn, serde=serde)
        finally:
            conn.close()

    def _after_fork(self) -> None:
        """In a forked child: reopen the same file (SQLite connections must not cross a fork)."""
        if not self._path:
            super()._after_fork()
        self.conn = connect(self._path)
        self._owns = True

    def close(self) -> None:
        """Close the connection if the saver opened it."""
        if self._owns:
            self.conn.close()

    def __enter__(self) -> "SqliteSaver":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # drivers
    def _run(self, op: Op[Any], mode: str, what: str) -> Any:
        with self.lock:
            return run_op(self.conn, op, mode)

    def _stream(self, op: Op[Any], what: str) -> Iterator[Any]:
        return stream_op(op, self._execute_locked)

    def _execute_locked(self, request: Any) -> Any:
        with self.lock:
            return execute(self.conn, request)


__all__ = ["SqliteSaver"]
