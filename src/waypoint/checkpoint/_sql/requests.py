"""Requests the SQL operations yield; each driver knows how to execute them.

``Fetch`` returns the rows as a list of tuples; ``Execute`` and ``ExecuteMany`` return
nothing. Transactions are the driver's business: an operation is run either as a *read*
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

__all__ = ["Execute", "ExecuteMany", "Fetch", "READ", "WRITE"]
