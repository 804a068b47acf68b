"""SQLite plumbing shared by the SQLite saver and store, sync and aiosqlite.

Opening and configuring a connection (WAL, busy timeout), the one mapping of driver errors, the
executor of the SQL requests, the ``BEGIN``/``COMMIT``/``ROLLBACK`` of an operation and the
one-hop call onto aiosqlite's connection thread. Writes run inside ``BEGIN IMMEDIATE`` so two
writers never deadlock upgrading a read lock, and wait up to the busy timeout for one another.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from os import PathLike
from typing import Any

from waypoint.checkpoint._sql import requests
from waypoint.errors import SetupError, StorageError

try:  # sqlean's exceptions do not subclass sqlite3's
    import sqlean as _sqlean

    DB_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, _sqlean.Error)
except ImportError:  # pragma: no cover - sqlean is part of the sqlite extra
    _sqlean = None
    DB_ERRORS = (sqlite3.Error,)

BUSY_TIMEOUT_MS = 30_000


CONNECTION_TYPES: tuple[type, ...] = (
    (sqlite3.Connection, _sqlean.Connection) if _sqlean is not None else (sqlite3.Connection,)
)


def open_connection(path: str | PathLike[str], *, extensions: bool = False) -> Any:
    """A connection shareable across threads, in autocommit mode (waypoint issues its own
    BEGIN/COMMIT).

    Every connection waypoint opens itself (saver and store, sync and async) uses the same SQLite
    library: ``sqlean`` when it is installed (it can load sqlite-vec), else ``sqlite3``. Two
    SQLite libraries in one process on one file do not see each other's POSIX locks, and
    writes are lost (SQLite's "How To Corrupt" 2.2.1), so a saver and a store sharing a file
    must never mix them. ``extensions`` is kept for callers; the choice no longer depends on it.
    """
    module: Any = _sqlean if _sqlean is not None else sqlite3
    return module.connect(str(path), check_same_thread=False, isolation_level=None)


def database_file(conn: Any) -> str:
    """The main database's file path ("" for in-memory and temporary databases): what a forked
    child reopens."""
    for _seq, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return file or ""
    return ""


def configure(conn: Any, owner: str) -> None:
    """WAL journal, a 30 s busy timeout and ``synchronous=NORMAL`` (safe under WAL); errors
    name ``owner`` (the public class) as in :func:`translate`."""
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode = WAL").fetchall()
                break
            except DB_ERRORS as exc:  # another process is switching it too
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.05)
        conn.execute("PRAGMA synchronous = NORMAL")
    except DB_ERRORS as exc:
        raise translate(exc, owner) from exc


def translate(exc: BaseException, owner: str) -> BaseException:
    """Map a SQLite error to waypoint's own class (others pass through); ``owner`` is the
    public class named in the fix (``SqliteSaver``/``SqliteStore``)."""
    if not isinstance(exc, DB_ERRORS):
        return exc
    text = str(exc)
    if type(exc).__name__ == "ProgrammingError" and "thread" in text:
        return SetupError(
            "the SQLite connection was created in another thread with check_same_thread=True; "
            "open it with sqlite3.connect(path, check_same_thread=False) or use "
            f"{owner}.from_conn_string(path) ({text})"
        )
    if "locked" in text or "busy" in text:
        return StorageError(
            f"SQLite stayed locked by another writer for longer than the {BUSY_TIMEOUT_MS // 1000} s "
            f"busy timeout ({text}); a long transaction elsewhere is holding the database"
        )
    return StorageError(f"SQLite failed: {type(exc).__name__}: {text}")


@contextmanager
def guarded(owner: str) -> Iterator[None]:
    """Raise the block's driver errors as :func:`translate` maps them."""
    try:
        yield
    except DB_ERRORS as exc:
        raise translate(exc, owner) from exc


def execute(conn: Any, request: Any) -> Any:
    """Execute one request of an operation (rows as tuples, whatever the ``row_factory``)."""
    cur = conn.cursor()
    cur.row_factory = None
    try:
        return requests.execute(cur, request)
    finally:
        cur.close()


@contextmanager
def transaction(conn: Any, begin: str, owner: str) -> Iterator[None]:
    """``begin`` (``BEGIN``/``BEGIN IMMEDIATE``), then COMMIT, or ROLLBACK on any error.

    Refuses a connection already inside a transaction of the caller's."""
    if conn.in_transaction:
        kind = owner.removeprefix("Sqlite").lower()
        raise SetupError(
            f"the SQLite connection given to the {kind} has an open transaction of its own; "
            f"commit it first, or give the {kind} its own connection "
            f"({owner}.from_conn_string(path))"
        )
    conn.execute(begin)
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


async def hop(aconn: Any, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(connection)`` on an aiosqlite connection's own thread, in one hop."""
    runner = getattr(aconn, "_execute", None)
    if runner is None:  # pragma: no cover - guards against an aiosqlite API change
        raise SetupError("this aiosqlite version has no Connection._execute; use aiosqlite>=0.20,<1")
    return await runner(lambda: fn(aconn._conn))


__all__ = [
    "BUSY_TIMEOUT_MS",
    "DB_ERRORS",
    "configure",
    "execute",
    "guarded",
    "hop",
    "open_connection",
    "transaction",
    "translate",
]
