"""Executes SQL-core operations on a ``sqlite3.Connection`` (both SQLite savers use this).

The caller owns the connection's thread (a lock for ``SqliteSaver``, aiosqlite's own thread for
``AsyncSqliteSaver``); these functions run a whole operation there. Writes run inside
``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read lock, and wait up to the
busy timeout for one another.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from os import PathLike
from typing import Any

from waypoint._ops import Op, run, stream
from waypoint.checkpoint._sql.requests import WRITE, Execute, ExecuteMany, Fetch
from waypoint.errors import SetupError, StorageError

BUSY_TIMEOUT_MS = 30_000


def connect(path: str | PathLike[str]) -> sqlite3.Connection:
    """A connection the savers can share across threads, in autocommit mode (waypoint issues
    its own BEGIN/COMMIT)."""
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    configure(conn)
    return conn


def configure(conn: sqlite3.Connection) -> None:
    """WAL journal, a 30 s busy timeout and ``synchronous=NORMAL`` (safe under WAL)."""
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode = WAL").fetchall()
                break
            except sqlite3.OperationalError as exc:  # another process is switching it too
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05)
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        raise translate(exc) from exc


def translate(exc: BaseException) -> BaseException:
    """Map a sqlite3 error to waypoint's own error class (others pass through)."""
    if not isinstance(exc, sqlite3.Error):
        return exc
    text = str(exc)
    if isinstance(exc, sqlite3.ProgrammingError) and "thread" in text:
        return SetupError(
            "the sqlite3 connection was created in another thread with check_same_thread=True; "
            "open it with sqlite3.connect(path, check_same_thread=False) or use "
            f"SqliteSaver.from_conn_string(path) ({text})"
        )
    if "locked" in text or "busy" in text:
        return StorageError(
            f"SQLite stayed locked by another writer for longer than the {BUSY_TIMEOUT_MS // 1000} s "
            f"busy timeout ({text}); a long transaction elsewhere is holding the database"
        )
    return StorageError(f"SQLite failed: {type(exc).__name__}: {text}")


def execute(conn: sqlite3.Connection, request: Any) -> Any:
    """Execute one request of an operation."""
    cur = conn.cursor()
    cur.row_factory = None
    try:
        if isinstance(request, Fetch):
            return cur.execute(request.sql, request.params).fetchall()
        if isinstance(request, Execute):
            cur.execute(request.sql, request.params)
            return None
        if isinstance(request, ExecuteMany):
            cur.executemany(request.sql, request.params_seq)
            return None
        raise TypeError(f"unknown request {request!r}")
    finally:
        cur.close()


def run_op(conn: sqlite3.Connection, op: Op[Any], mode: str) -> Any:
    """Run a whole operation; a write commits once at the end or rolls back entirely."""
    try:
        if mode != WRITE:
            return run(op, lambda req: execute(conn, req))
        if conn.in_transaction:
            raise SetupError(
                "the sqlite3 connection given to the saver has an open transaction of its own; "
                "commit it first, or give the saver its own connection "
                "(SqliteSaver.from_conn_string(path))"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = run(op, lambda req: execute(conn, req))
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result
    except sqlite3.Error as exc:
        raise translate(exc) from exc


def stream_op(op: Op[Any], execute_one: Callable[[Any], Any]) -> Iterator[Any]:
    """Stream a read operation, running each request through ``execute_one``."""

    def guarded(request: Any) -> Any:
        try:
            return execute_one(request)
        except sqlite3.Error as exc:
            raise translate(exc) from exc

    return stream(op, guarded)


__all__ = ["BUSY_TIMEOUT_MS", "configure", "connect", "execute", "run_op", "stream_op", "translate"]
