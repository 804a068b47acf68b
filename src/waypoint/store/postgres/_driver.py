"""Runs store operations on psycopg 3 connections, sync and async.

Every operation runs in one transaction in pipeline mode (unless the store says
``pipeline=False``): statements whose results the
operation does not need (``Execute``, ``ExecuteMany``, transaction-local settings) are sent
without waiting, so a batch of puts is one round trip plus the commit, and a batch of gets one
query. Settings: waypoint runs its own transactions, so a connection must not be inside one of
the caller's; ``autocommit=True`` is recommended, ``autocommit=False`` works too. Rows are read
with a tuple row factory, so the connection's ``row_factory`` does not matter. The psycopg
plumbing (checks, error mapping, borrowing) is shared with the saver in ``waypoint._pg``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from waypoint import _pg
from waypoint._ops import Op, arun, run
from waypoint.errors import SetupError
from waypoint.store._sql.dialect import SINGLE_READ, BeginWrite
from waypoint.store._sql.postgres_sql import PgVector


class _PgVectorDumper(psycopg.adapt.Dumper):
    """Sends a :class:`PgVector` as is, in binary, of unknown type (the statement casts it)."""

    format = psycopg.pq.Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return bytes(obj)


psycopg.adapters.register_dumper(PgVector, _PgVectorDumper)


def translate(exc: BaseException) -> BaseException:
    """Map a psycopg error to waypoint's own class: a refused setup statement to SetupError,
    the rest as ``waypoint._pg.translate`` (others pass through)."""
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return SetupError(
            f"PostgreSQL refused a setup statement ({exc}); run the store's setup() once as a "
            "role that may create tables and extensions (CREATE EXTENSION vector needs one)"
        )
    return _pg.translate(exc)


def _execute(conn: psycopg.Connection[Any], request: Any) -> Any:
    # One cursor per request: in pipeline mode a reused cursor can hand a Fetch the result of
    # an earlier, unfetched statement.
    if isinstance(request, BeginWrite):
        return None
    with conn.cursor(row_factory=tuple_row) as cur:
        return _pg.execute(cur, request)


async def _aexecute(conn: psycopg.AsyncConnection[Any], request: Any) -> Any:
    if isinstance(request, BeginWrite):
        return None
    async with conn.cursor(row_factory=tuple_row) as cur:
        return await _pg.aexecute(cur, request)


def _pipeline(conn: Any, pipelined: bool) -> Any:
    return _pg.pipeline(conn) if pipelined else contextlib.nullcontext()


def run_op(conn: psycopg.Connection[Any], op: Op[Any], mode: str, pipeline: bool = True) -> Any:
    """Run a whole operation in one transaction, pipelined unless ``pipeline`` is False.
    ``SINGLE_READ`` on an autocommit connection: the read statement runs on its own (one
    round trip instead of three), a transaction opens only at ``BeginWrite``."""
    if mode == SINGLE_READ and conn.autocommit:
        with _pg.guarded(conn, "store", translate), contextlib.ExitStack() as stack:

            def step(request: Any) -> Any:
                if isinstance(request, BeginWrite):
                    stack.enter_context(conn.transaction())
                    return None
                return _execute(conn, request)

            return run(op, step)
    with _pg.guarded(conn, "store", translate), _pipeline(conn, pipeline), conn.transaction():
        return run(op, lambda req: _execute(conn, req))


async def arun_op(
    conn: psycopg.AsyncConnection[Any], op: Op[Any], mode: str, pipeline: bool = True
) -> Any:
    """The async twin of :func:`run_op`."""
    if mode == SINGLE_READ and conn.autocommit:
        with _pg.guarded(conn, "store", translate):
            async with contextlib.AsyncExitStack() as stack:

                async def step(request: Any) -> Any:
                    if isinstance(request, BeginWrite):
                        await stack.enter_async_context(conn.transaction())
                        return None
                    return await _aexecute(conn, request)

                return await arun(op, step)
    with _pg.guarded(conn, "store", translate):
        async with _pipeline(conn, pipeline), conn.transaction():
            return await arun(op, lambda req: _aexecute(conn, req))


__all__ = ["arun_op", "run_op", "translate"]
