"""Requests the SQL operations yield; each driver knows how to execute them.

``Fetch`` returns the rows as a list of tuples; ``Execute`` and ``ExecuteMany`` return
nothing; :func:`execute` runs one on a DB-API cursor. Transactions are the driver's business: an operation is run either as a *read*
(no transaction needed) or as a *write* (everything it yields commits together or not at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple


class Fetch(NamedTuple):
    """Run ``sql`` with ``params`` and return every row (tuples)."""

    sql: str
    params: Sequence[Any] = ()


class Execute(NamedTuple):
    """Run one statement that returns no rows."""

    sql: str
    params: Sequence[Any] = ()


class ExecuteMany(NamedTuple):
    """Run one statement once per parameter tuple (a bulk write)."""

    sql: str
    params_seq: Sequence[Sequence[Any]]


READ = "read"
WRITE = "write"


def execute(cur: Any, request: Any) -> Any:
    """Execute one request on a DB-API cursor (psycopg's, sqlite3's): rows for ``Fetch``,
    None otherwise."""
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


__all__ = ["Execute", "ExecuteMany", "Fetch", "READ", "WRITE", "execute"]
