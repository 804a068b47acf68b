"""Executes SQL-core operations on psycopg 3 connections, sync and async.

Settings: waypoint runs its own transactions, so a connection must not be inside one of the
caller's when handed to the saver. ``autocommit=True`` is recommended (reads are then a single
round trip); a connection with ``autocommit=False`` is adapted transparently by wrapping each
read in its own short transaction. Rows are fetched with waypoint's own tuple row factory, so
the connection's ``row_factory`` (e.g. ``dict_row``) does not matter, and in binary format:
log pages and blobs arrive as raw bytes instead of hex text (a 1,000-turn chat's latest
checkpoint: 4.2-5.9 ms -> 2.1-2.3 ms per fetch). Writes run in pipeline
mode inside one transaction: a ``put`` is one or two round trips however many rows it writes.
The psycopg plumbing (checks, error mapping, borrowing) is shared with the store in
``waypoint._pg``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import tuple_row

from waypoint._ops import Op, arun, run
from waypoint._pg import aexecute, execute, guarded, pipeline
from waypoint.checkpoint._sql.requests import WRITE


def run_op(conn: psycopg.Connection[Any], op: Op[Any], mode: str) -> Any:
    """Run a whole operation: a write in one pipelined transaction, a read as-is."""
    with guarded(conn, "saver"):
        if mode == WRITE:
            with pipeline(conn), conn.transaction(), conn.cursor(row_factory=tuple_row, binary=True) as cur:
                return run(op, lambda req: execute(cur, req))
        with conn.cursor(row_factory=tuple_row, binary=True) as cur:
            if conn.autocommit:
                return run(op, lambda req: execute(cur, req))
            with conn.transaction():
                return run(op, lambda req: execute(cur, req))


async def arun_op(conn: psycopg.AsyncConnection[Any], op: Op[Any], mode: str) -> Any:
    """The async twin of :func:`run_op`."""
    with guarded(conn, "saver"):
        if mode == WRITE:
            async with pipeline(conn), conn.transaction(), conn.cursor(row_factory=tuple_row, binary=True) as cur:
                return await arun(op, lambda req: aexecute(cur, req))
        async with conn.cursor(row_factory=tuple_row, binary=True) as cur:
            if conn.autocommit:
                return await arun(op, lambda req: aexecute(cur, req))
            async with conn.transaction():
                return await arun(op, lambda req: aexecute(cur, req))


def read_one(conn: psycopg.Connection[Any], request: Any) -> Any:
    """Execute one read request of a streaming operation."""
    return run_op(conn, _single(request), "read")


async def aread_one(conn: psycopg.AsyncConnection[Any], request: Any) -> Any:
    return await arun_op(conn, _single(request), "read")


def _single(request: Any) -> Op[Any]:
    result = yield request
    return result


__all__ = ["aread_one", "arun_op", "read_one", "run_op"]
