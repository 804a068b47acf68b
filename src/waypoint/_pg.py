"""psycopg 3 plumbing shared by the PostgreSQL saver and store, sync and async.

Constructor and connection checks, the one mapping of psycopg errors, pipeline mode, the executor of the SQL
requests (``Fetch``/``Execute``/``ExecuteMany``) on a cursor, and borrowing a connection from a
pool or a lock-guarded single connection. Each backend's ``_driver`` adds only how it runs an
operation (transactions, cursors) and any error it maps differently.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from waypoint.checkpoint._sql.requests import Execute, ExecuteMany, Fetch, execute
from waypoint.errors import SetupError, StorageError


def require(conn: Any, sync: bool, owner: str, twin: str) -> None:
    """Refuse, in ``owner``'s constructor, anything but a connection or pool of its face
    (``sync`` or asyncio), naming the ``twin`` class that takes the other face."""
    prefix = "" if sync else "Async"
    own, other = (
        (psycopg.Connection, psycopg.AsyncConnection) if sync else (psycopg.AsyncConnection, psycopg.Connection)
    )
    if isinstance(conn, other) or not (isinstance(conn, own) or hasattr(conn, "connection")):
        raise SetupError(
            f"{owner} needs a psycopg.{prefix}Connection or psycopg_pool.{prefix}ConnectionPool, "
            f"got {type(conn).__name__}; for {'asyncio' if sync else 'a sync connection'} use {twin}"
        )


def check(conn: Any, owner: str) -> None:
    """Refuse, with the fix, a connection the ``owner`` ("saver"/"store") cannot run its
    transactions on."""
    if conn.closed:
        raise StorageError(f"the PostgreSQL connection given to the {owner} is closed")
    status = conn.info.transaction_status
    if status != TransactionStatus.IDLE:
        raise SetupError(
            f"the PostgreSQL connection given to the {owner} is inside a transaction "
            f"(status {status.name}); waypoint runs its own transactions. Open the connection "
            "with autocommit=True (psycopg.Connection.connect(url, autocommit=True)) and do not "
            "share it with work that leaves a transaction open, or pass a ConnectionPool"
        )


def translate(exc: BaseException) -> BaseException:
    """Map a psycopg error to waypoint's own class (others pass through)."""
    if not isinstance(exc, psycopg.Error):
        return exc
    return StorageError(f"PostgreSQL failed: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def guarded(
    conn: Any, owner: str, translate: Callable[[BaseException], BaseException] = translate
) -> Iterator[None]:
    """Check ``conn``, then raise psycopg errors of the block as ``translate`` maps them.

    A plain context manager, so it also wraps the awaits of an async driver."""
    check(conn, owner)
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc) from exc


def pipeline(conn: Any) -> Any:
    """Pipeline mode where libpq supports it, else nothing."""
    return conn.pipeline() if psycopg.Pipeline.is_supported() else contextlib.nullcontext()


async def aexecute(cur: psycopg.AsyncCursor[Any], request: Any) -> Any:
    """Async twin of ``requests.execute`` (re-exported here as :func:`execute`)."""
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


@contextlib.contextmanager
def borrow(source: Any, lock: Any) -> Iterator[psycopg.Connection[Any]]:
    """A connection from a pool, or the one connection under the owner's lock."""
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


__all__ = [
    "aborrow",
    "aexecute",
    "borrow",
    "check",
    "execute",
    "guarded",
    "pipeline",
    "require",
    "translate",
]
