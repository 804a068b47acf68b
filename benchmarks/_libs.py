"""One code path for both libraries: modules are imported by prefix (``waypoint`` or
``langgraph``), so every graph and saver in the benchmarks is the same program ported by
changing its import prefix, as a user would."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from benchmarks import _harness as h

BACKENDS = ("memory", "sqlite", "postgres")

# LangGraph logs a warning for every class it deserializes that is not registered; the
# benchmarks' LangChain messages would flood the output.
logging.getLogger("langgraph").setLevel(logging.ERROR)


def mod(lib: str, name: str) -> ModuleType:
    """``{lib}.{name}``, e.g. ``mod("waypoint", "graph")``."""
    return importlib.import_module(f"{lib}.{name}")


class Where:
    """Where a run's data lives: a SQLite path or a PostgreSQL URL (fresh per measurement)."""

    def __init__(self, backend: str, path: str | None = None, url: str | None = None) -> None:
        self.backend, self.path, self.url = backend, path, url
        self.conn: Any = None  # the saver's sqlite3 connection, for measuring the file

    def bytes(self) -> int | None:
        """Bytes the run stored, measured from the database itself (None in memory)."""
        if self.backend == "sqlite":
            assert self.path is not None
            return h.sqlite_file_bytes(self.conn, self.path)
        if self.backend == "postgres":
            assert self.url is not None
            return h.pg_tables_bytes(self.url)
        return None


@contextlib.contextmanager
def location(backend: str, tag: str = "run") -> Iterator[Where]:
    """A fresh SQLite file in a temporary directory or a fresh PostgreSQL database."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="wpbench-") as d:
            yield Where(backend, path=os.path.join(d, f"{tag}.db"))
    elif backend == "postgres":
        with h.fresh_pg_database() as url:
            yield Where(backend, url=url)
    else:
        yield Where(backend)


@contextlib.contextmanager
def saver(lib: str, where: Where) -> Iterator[Any]:
    """The library's checkpointer for ``where`` (None for backend ``"none"``).

    SQLite: both libraries get a ``sqlite3`` connection opened the same way (LangGraph's
    ``SqliteSaver`` takes a connection). PostgreSQL: both use ``from_conn_string`` (one
    autocommit connection) and ``setup()``.
    """
    if where.backend == "none":
        yield None
    elif where.backend == "memory":
        yield mod(lib, "checkpoint.memory").InMemorySaver()
    elif where.backend == "sqlite":
        assert where.path is not None
        conn = sqlite3.connect(where.path, check_same_thread=False)
        where.conn = conn
        try:
            s = mod(lib, "checkpoint.sqlite").SqliteSaver(conn)
            s.setup()
            yield s
        finally:
            conn.close()
    elif where.backend == "postgres":
        assert where.url is not None
        with mod(lib, "checkpoint.postgres").PostgresSaver.from_conn_string(where.url) as s:
            s.setup()
            yield s
    else:
        raise ValueError(f"unknown backend {where.backend!r}")
