"""Runs store operations on a SQLite connection (``sqlite3``, or ``sqlean`` for extensions).

Both SQLite stores use this: ``SqliteStore`` under its lock, ``AsyncSqliteStore`` on
aiosqlite's connection thread, one whole operation per hop. A batch with puts runs in
``BEGIN IMMEDIATE`` (writers queue on the busy timeout instead of failing to upgrade); a read
batch runs in a deferred transaction and switches to a write transaction only when it has TTLs
to refresh; a batch of gets only (one SELECT) runs without one until it has TTLs to refresh.
Connections, errors and transactions: ``waypoint._sqlite``, shared with the saver.

Vector search: by default from the store's in-memory copy of the vectors (``"matrix"``, any
connection). With ``index={..., "vector_cache": False}``: if the connection can load extensions
(a ``sqlean``/``pysqlite3`` connection; the stdlib ``sqlite3`` here cannot) and ``sqlite-vec``
is installed, queries are scored in SQL with ``vec_distance_cosine``; otherwise the same
pre-filtered vectors are fetched and scored in numpy.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Any

from waypoint import _sqlite
from waypoint._ops import Op, run
from waypoint._sqlite import DB_ERRORS, execute, open_connection
from waypoint.errors import ConfigError, SetupError
from waypoint.store._sql.dialect import SINGLE_READ, WRITE, BeginWrite

logger = logging.getLogger("waypoint.store")

OWNER = "SqliteStore"
MIN_VERSION = (3, 35, 0)
PAGE_SIZE = 8192
"""Page size of a database file the store creates: a 384-dim float32 vector row takes ~1.6 KB,
so an 8 KiB page holds five where SQLite's default 4 KiB holds two (a fifth fewer pages to
write, and to copy again at each WAL checkpoint). Existing files keep their page size."""


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


def prepare(conn: Any, *, vectors: bool, cache: bool = True) -> tuple[tuple[int, ...], str | None]:
    """Configure a connection (WAL, busy timeout) and pick the vector strategy.

    Returns the SQLite library version and ``"matrix"`` (``cache``), ``"sql"`` (sqlite-vec),
    ``"numpy"`` or None (no ``vectors``).
    """
    _new_file_pages(conn)
    _sqlite.configure(conn, OWNER)
    version = library_version(conn)
    if version < MIN_VERSION:
        raise SetupError(
            f"SQLite {'.'.join(map(str, version))} is too old for the store (it needs "
            f"{'.'.join(map(str, MIN_VERSION))}+ for RETURNING); install the sqlean.py package "
            "and pass a sqlean connection, or upgrade Python's SQLite"
        )
    if not vectors:
        return version, None
    if cache:
        return version, "matrix"
    return version, "sql" if load_sqlite_vec(conn) else "numpy"


def _new_file_pages(conn: Any) -> None:
    """:data:`PAGE_SIZE` for a database that has no page yet (before WAL fixes its size)."""
    try:
        if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    except DB_ERRORS:  # locked or unreadable: configure() reports it; the size is only a tuning
        pass


def vector_cache_option(index: Any) -> bool:
    """The index's ``vector_cache`` key (default True): rank from an in-memory copy."""
    value = True if index is None else index.get("vector_cache", True)
    if not isinstance(value, bool):
        raise ConfigError(f"index vector_cache={value!r}: give True (default) or False")
    return value


def vector_backend(dialect: Any) -> str | None:
    """The public name of a dialect's vector strategy."""
    names = {"matrix": "matrix", "sql": "sqlite-vec", "numpy": "numpy"}
    return names.get(dialect.vector_strategy or "")


def run_op(conn: Any, op: Op[Any], mode: str, dialect: Any = None) -> Any:
    """Run a whole operation in one transaction: committed at the end, rolled back on error.

    ``SINGLE_READ`` (one read statement): no transaction until the operation asks to write.
    A failed write transaction resets ``dialect``'s vector cache, which may have read rows
    the rollback removed (and whose ids SQLite may then hand out again).
    """
    try:
        return _run_op(conn, op, mode)
    except BaseException:
        if mode == WRITE and dialect is not None and dialect.matrix is not None:
            dialect.matrix.reset()
        raise


def _run_op(conn: Any, op: Op[Any], mode: str) -> Any:
    if mode == SINGLE_READ:
        return _run_single_read(conn, op)
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

    with _sqlite.guarded(OWNER), _sqlite.transaction(conn, "BEGIN IMMEDIATE" if writing else "BEGIN", OWNER):
        return run(op, step)


def _run_single_read(conn: Any, op: Op[Any]) -> Any:
    with _sqlite.guarded(OWNER), ExitStack() as stack:
        if conn.in_transaction:  # refused, with the same error as a transaction of ours
            stack.enter_context(_sqlite.transaction(conn, "BEGIN", OWNER))

        def step(request: Any) -> Any:
            if isinstance(request, BeginWrite):
                if not conn.in_transaction:
                    stack.enter_context(_sqlite.transaction(conn, "BEGIN IMMEDIATE", OWNER))
                return None
            return execute(conn, request)

        return run(op, step)


__all__ = ["DB_ERRORS", "open_connection", "prepare", "run_op"]
