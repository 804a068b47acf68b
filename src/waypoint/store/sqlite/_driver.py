"""Runs store operations on a SQLite connection (``sqlite3``, or ``sqlean`` for extensions).

Both SQLite stores use this: ``SqliteStore`` under its lock, ``AsyncSqliteStore`` on
aiosqlite's connection thread, one whole operation per hop. A batch with puts runs in
``BEGIN IMMEDIATE`` (writers queue on the busy timeout instead of failing to upgrade); a read
batch runs in a deferred transaction and switches to a write transaction only when it has TTLs
to refresh.

Vector search: if the connection can load extensions (a ``sqlean``/``pysqlite3`` connection;
the stdlib ``sqlite3`` here cannot) and ``sqlite-vec`` is installed, queries are scored in SQL
with ``vec_distance_cosine``; otherwise the same pre-filtered vectors are scored in numpy.
"""

from __future__ import annotations

import logging
import sqlite3
from os import PathLike
from typing import Any

from waypoint._ops import Op, run
from waypoint.checkpoint.sqlite._driver import BUSY_TIMEOUT_MS, configure
from waypoint.errors import SetupError, StorageError
from waypoint.store._sql.dialect import WRITE, BeginWrite, Execute, ExecuteMany, Fetch

logger = logging.getLogger("waypoint.store")

try:  # sqlean's exceptions do not subclass sqlite3's
    import sqlean as _sqlean

    DB_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, _sqlean.Error)
except ImportError:  # pragma: no cover - sqlean is part of the sqlite extra
    _sqlean = None
    DB_ERRORS = (sqlite3.Error,)

MIN_VERSION = (3, 35, 0)


def open_connection(path: str | PathLike[str], *, extensions: bool) -> Any:
    """A connection shareable across threads, in autocommit mode (waypoint issues its own
    BEGIN/COMMIT); opened with ``sqlean`` when ``extensions`` and it is installed."""
    module: Any = _sqlean if extensions and _sqlean is not None else sqlite3
    return module.connect(str(path), check_same_thread=False, isolation_level=None)


def library_version(conn: Any) -> tuple[int, ...]:
    """The version of the SQLite library behind ``conn``."""
    text = conn.execute("SELECT sqlite_version()").fetchone()[0]
    return tuple(int(part) for part in text.split("."))


def load_sqlite_vec(conn: Any) -> bool:
    """Make ``vec_distance_cosine`` available on ``conn`` if possible; True if it is."""
    try:
        conn.execute("SELECT vec_version()").fetchone()
        return True
    except DB_ERRORS:
        pass
    if not hasattr(conn, "enable_load_extension"):
        return False
    try:
        import sqlite_vec

        conn.enable_load_extension(True)
        try:
            sqlite_vec.load(conn)
        finally:
            conn.enable_load_extension(False)
        return True
    except Exception as exc:  # missing package, or an extension the platform cannot load
        logger.info("sqlite-vec unavailable (%s); vector search is scored in numpy", exc)
        return False


def prepare(conn: Any, *, vectors: bool) -> tuple[tuple[int, ...], str | None]:
    """Configure a connection (WAL, busy timeout) and pick the vector strategy.

    Returns the SQLite library version and ``"sql"`` (sqlite-vec), ``"numpy"`` or None.
    """
    try:
        configure(conn)
    except StorageError:
        raise
    except DB_ERRORS as exc:
        raise translate(exc) from exc
    version = library_version(conn)
    if version < MIN_VERSION:
        raise SetupError(
            f"SQLite {'.'.join(map(str, version))} is too old for the store (it needs "
            f"{'.'.join(map(str, MIN_VERSION))}+ for RETURNING); install the sqlean.py package "
            "and pass a sqlean connection, or upgrade Python's SQLite"
        )
    if not vectors:
        return version, None
    return version, "sql" if load_sqlite_vec(conn) else "numpy"


def translate(exc: BaseException) -> BaseException:
    """Map a SQLite error to waypoint's own class (others pass through)."""
    if not isinstance(exc, DB_ERRORS):
        return exc
    text = str(exc)
    if type(exc).__name__ == "ProgrammingError" and "thread" in text:
        return SetupError(
            "the SQLite connection was created in another thread with check_same_thread=True; "
            "open it with check_same_thread=False or use SqliteStore.from_conn_string(path) "
            f"({text})"
        )
    if "locked" in text or "busy" in text:
        return StorageError(
            f"SQLite stayed locked by another writer for longer than the "
            f"{BUSY_TIMEOUT_MS // 1000} s busy timeout ({text})"
        )
    return StorageError(f"SQLite failed: {type(exc).__name__}: {text}")


def execute(conn: Any, request: Any) -> Any:
    """Execute one request of an operation."""
    if isinstance(request, Fetch):
        return conn.execute(request.sql, request.params).fetchall()
    if isinstance(request, Execute):
        conn.execute(request.sql, request.params)
        return None
    if isinstance(request, ExecuteMany):
        conn.executemany(request.sql, request.params_seq)
        return None
    raise TypeError(f"unknown request {request!r}")


def run_op(conn: Any, op: Op[Any], mode: str) -> Any:
    """Run a whole operation in one transaction: committed at the end, rolled back on error."""
    if conn.in_transaction:
        raise SetupError(
            "the SQLite connection given to the store has an open transaction of its own; "
            "commit it first, or give the store its own connection "
            "(SqliteStore.from_conn_string(path))"
        )
    writing = mode == WRITE

    def step(request: Any) -> Any:
        nonlocal writing
        if isinstance(request, BeginWrite):
            if not writing:
                conn.execute("COMMIT")
                conn.execute("BEGIN IMMEDIATE")
                writing = True
            return None
        return execute(conn, request)

    try:
        conn.execute("BEGIN IMMEDIATE" if writing else "BEGIN")
        try:
            result = run(op, step)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result
    except DB_ERRORS as exc:
        raise translate(exc) from exc


__all__ = ["DB_ERRORS", "open_connection", "prepare", "run_op", "translate"]
