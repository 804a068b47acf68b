"""Runs store operations on psycopg 3 connections, sync and async.

Every operation runs in one transaction in pipeline mode: statements whose results the
operation does not need (``Execute``, ``ExecuteMany``, transaction-local settings) are sent
without waiting, so a batch of puts is one round trip plus the commit, and a batch of gets one
query. Settings: waypoint runs its own transactions, so a connection must not be inside one of
the caller's; ``autocommit=True`` is recommended, ``autocommit=False`` works too. Rows are read
with a tuple row factory, so the connection's ``row_factory`` does not matter.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from waypoint._ops import Op, arun, run
from waypoint.errors import SetupError, StorageError
from waypoint.store._sql.dialect import BeginWrite, Execute, ExecuteMany, Fetch


def check(conn: Any) -> None:
    """Refuse, with the fix, a connection the store cannot run its transactions on."""
    if conn.closed:
        raise StorageError("the PostgreSQL connection given to the store is closed")
    status = conn.info.transaction_status
    if status != TransactionStatus.IDLE:
        raise SetupError(
            f"the PostgreSQL connection given to the store is inside a transaction (status "
            f"{status.name}); waypoint runs its own transactions. Open it with autocommit=True "
            "(psycopg.Connection.connect(url, autocommit=True)) and do not share it with work "
            "that leaves a transaction open, or pass a ConnectionPool"
        )


def translate(exc: BaseException) -> BaseException:
    """Map a psycopg error to waypoint's own class (others pass through)."""
    if not isinstance(exc, psycopg.Error):
        return exc
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return SetupError(
            f"PostgreSQL refused a setup statement ({exc}); run the store's setup() once as a "
            "role that may create tables and extensions (CREATE EXTENSION vector needs one)"
        )
    return StorageError(f"PostgreSQL failed: {type(exc).__name__}: {exc}")


def _pipeline(conn: Any) -> Any:
    return conn.pipeline() if psycopg.Pipeline.is_supported() else contextlib.nullcontext()


def _execute(conn: psycopg.Connection[Any], request: Any) -> Any:
    # One cursor per request: in pipeline mode a reused cursor can hand a Fetch the result of
    # an earlier, unfetched statement.
    if isinstance(request, BeginWrite):
        return None
    with conn.cursor(row_factory=tuple_row) as cur:
        return _one(cur, request)


def _one(cur: psycopg.Cursor[Any], request: Any) -> Any:
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


async def _aexecute(conn: psycopg.AsyncConnection[Any], request: Any) -> Any:
    if isinstance(request, BeginWrite):
        return None
    async with conn.cursor(row_factory=tuple_row) as cur:
        return await _aone(cur, request)


async def _aone(cur: psycopg.AsyncCursor[Any], request: Any) -> Any:
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
    """Run a whole operation in one pipelined transaction."""
    check(conn)
    try:
        with _pipeline(conn), conn.transaction():
            return run(op, lambda req: _execute(conn, req))
    except psycopg.Error as exc:
        raise translate(exc) from exc


async def arun_op(conn: psycopg.AsyncConnection[Any], op: Op[Any], mode: str) -> Any:
    """The async twin of :func:`run_op`."""
    check(conn)
    try:
        async with _pipeline(conn), conn.transaction():
            return await arun(op, lambda req: _aexecute(conn, req))
    except psycopg.Error as exc:
        raise translate(exc) from exc


@contextlib.contextmanager
def borrow(source: Any, lock: Any) -> Iterator[psycopg.Connection[Any]]:
    """A connection from a pool, or the one connection under the store's lock."""
    if isinstance(source, psycopg.Connection):
        with lock:
            yield source
    else:
        with source.connection() as conn:
            yield conn


@contextlib.asynccontextmanager
async def aborrow(source: Any, lock: Any) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """Async twin of :func:`borrow`."""
    if isinstance(source, psycopg.AsyncConnection):
        async with lock:
            yield source
    else:
        async with source.connection() as conn:
            yield conn


__all__ = ["aborrow", "arun_op", "borrow", "check", "run_op", "translate"]
