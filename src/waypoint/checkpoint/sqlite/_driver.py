"""Executes SQL-core operations on a ``sqlite3.Connection`` (both SQLite savers use this).

The caller owns the connection's thread (a lock for ``SqliteSaver``, aiosqlite's own thread for
``AsyncSqliteSaver``); these functions run a whole operation there. Reads run without a
transaction; writes inside ``BEGIN IMMEDIATE`` (see ``waypoint._sqlite``, shared with the store).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from os import PathLike
from typing import Any

from waypoint import _sqlite
from waypoint._ops import Op, run, stream
from waypoint._sqlite import execute
from waypoint.checkpoint._sql.requests import WRITE

OWNER = "SqliteSaver"


def connect(path: str | PathLike[str]) -> sqlite3.Connection:
    """A connection the savers can share across threads, in autocommit mode (waypoint issues
    its own BEGIN/COMMIT)."""
    conn: sqlite3.Connection = _sqlite.open_connection(path)
    configure(conn)
    return conn


def configure(conn: sqlite3.Connection) -> None:
    """WAL journal, a 30 s busy timeout and ``synchronous=NORMAL`` (safe under WAL)."""
    _sqlite.configure(conn, OWNER)


def run_op(conn: sqlite3.Connection, op: Op[Any], mode: str) -> Any:
    """Run a whole operation; a write commits once at the end or rolls back entirely."""
    with _sqlite.guarded(OWNER):
        if mode != WRITE:
            return run(op, lambda req: execute(conn, req))
        with _sqlite.transaction(conn, "BEGIN IMMEDIATE", OWNER):
            return run(op, lambda req: execute(conn, req))


def stream_op(op: Op[Any], execute_one: Callable[[Any], Any]) -> Iterator[Any]:
    """Stream a read operation, running each request through ``execute_one``."""

    def guarded(request: Any) -> Any:
        with _sqlite.guarded(OWNER):
            return execute_one(request)

    return stream(op, guarded)


__all__ = ["configure", "connect", "execute", "run_op", "stream_op"]
