"""Executes SQL-core operations on psycopg 3 connections, sync and async.

Settings: waypoint runs its own transactions, so a connection must not be inside one of the
caller's when handed to the saver. ``autocommit=True`` is recommended (reads are then a single
round trip); a connection with ``autocommit=False`` is adapted transparently by wrapping each
read in its own short transaction. Rows are fetched with waypoint's own tuple row factory, so
the connection's ``row_factory`` (e.g. ``dict_row``) does not matter. Writes run in pipeline
mode inside one transaction: a ``put`` is one or two round trips however many rows it writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from waypoint._ops import Op, arun, run
from waypoint.checkpoint._sql.requests import WRITE, Execute, ExecuteMany, Fetch
from waypoint.errors import SetupError, StorageError

def check(conn: Any) -> None:
    """Refuse, with the fix, a connection waypoint cannot run its transactions on."""
    if conn.closed:
        raise StorageError("the PostgreSQL connection given to the saver is closed")
    status = conn.info.transaction_status
    if status != TransactionStatus.IDLE:
        raise SetupError(
            f"the PostgreSQL connection given to the saver is inside a transaction "
            f"(status {status.name}); waypoint runs its own transactions. Open the connection "
            "with autocommit=True (psycopg.Connection.connect(url, autocommit=True)) and do not "
            "share it with work that leaves a transaction open, or pass a ConnectionPool"
        )


def translate(exc: BaseException) -> BaseException:
    """Map a psycopg error to waypoint's own class (others pass through)."""
    if not isinstance(exc, psycopg.Error):
        return exc
    return StorageError(f"PostgreSQL failed: {type(exc).__name__}: {exc}")


def _pipeline(conn: Any) -> Any:
    return conn.pipeline() if psycopg.Pipeline.is_supported() else contextlib.nullcontext()


def _execute(cur: psycopg.Cursor[Any], request: Any) -> Any:
    if isinstance(request, Fetch):
        cur.execute(request.sql, request.params)
        return cur.fetchall()
    if isinstance(request, Execute):
        cur.execute(request.sql, request.params)
        return None
    if isinstance(request, ExecuteMany):
        cur.executemany(request.sql, request.params_seq)
        return None
    raise TypeError(f"unknown request {request!r}")


async def _aexecute(cur: psycopg.AsyncCursor[Any], request: Any) -> Any:
    if isinstance(request, Fetch):
        await cur.execute(request.sql, request.params)
        return await cur.fetchall()
    if isinstance(request, Execute):
        await cur.execute(request.sql, request.params)
        return None
    if isinstance(request, ExecuteMany):
        await cur.executemany(request.sql, request.params_seq)
        return None
    raise TypeError(f"unknown request {request!r}")


def run_op(conn: psycopg.Connection[Any], op: Op[Any], mode: str) -> Any:
    """Run a whole operation: a write in one pipelined transaction, a read as-is."""
    check(conn)
    try:
        if mode == WRITE:
            with _pipeline(conn), conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
                return run(op, lambda req: _execute(cur, req))
        with conn.cursor(row_factory=tuple_row) as cur:
            if conn.autocommit:
                return run(op, lambda req: _execute(cur, req))
            with conn.transaction():
                return run(op, lambda req: _execute(cur, req))
    except psycopg.Error as exc:
        raise translate(exc) from exc


async def arun_op(conn: psycopg.AsyncConnection[Any], op: Op[Any], mode: str) -> Any:
    """The async twin of :func:`run_op`."""
    check(conn)
    try:
        if mode == WRITE:
            async with _pipeline(conn), conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
                return await arun(op, lambda req: _aexecute(cur, req))
        async with conn.cursor(row_factory=tuple_row) as cur:
            if conn.autocommit:
                return await arun(op, lambda req: _aexecute(cur, req))
            async with conn.transaction():
                return await arun(op, lambda req: _aexecute(cur, req))
    except psycopg.Error as exc:
        raise translate(exc) from exc


def read_one(conn: psycopg.Connection[Any], request: Any) -> Any:
    """Execute one read request of a streaming operation."""
    return run_op(conn, _single(request), "read")


async def aread_one(conn: psycopg.AsyncConnection[Any], request: Any) -> Any:
    return await arun_op(conn, _single(request), "read")


def _single(request: Any) -> Op[Any]:
    result = yield request
    return result


@contextlib.contextmanager
def borrow(source: Any, lock: Any) -> Iterator[psycopg.Connection[Any]]:
    """A connection from a pool, or the one connection under the saver's lock."""
    if isinstance(source, psycopg.Connection):
        with lock:
            yield source
    else:
        with source.connection() as conn:
            yield conn


@contextlib.asynccontextmanager
async def aborrow(source: Any, lock: Any) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    if isinstance(source, psycopg.AsyncConnection):
        async with lock:
            yield source
    else:
        async with source.connection() as conn:
            yield conn


__all__ = ["aborrow", "aread_one", "arun_op", "borrow", "check", "read_one", "run_op", "translate"]
