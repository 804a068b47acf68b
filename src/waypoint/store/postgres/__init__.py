"""PostgresStore: long-term memory in PostgreSQL through psycopg 3, with pgvector search.

    with PostgresStore.from_conn_string(url, index={"dims": 384, "embed": embed}) as store:
        store.put(("users", "42"), "prefs", {"theme": "dark"})

Accepts a ``psycopg.Connection`` (shared across threads under a lock) or a
``psycopg_pool.ConnectionPool``. Filters (JSONB), namespace prefixes, ordering and pagination
run in SQL with every key and value bound. ``index`` takes LangGraph's ``PostgresIndexConfig``
shape: ``dims``, ``embed``, ``fields``, ``ann_index_config`` (``kind`` hnsw/ivfflat/flat,
``vector_type`` halfvec/vector, ``m``, ``ef_construction``, ``ef_search``, ``lists``,
``probes``, and waypoint's ``exact_threshold`` and ``exact_fallback``: up to 5,000 stored
vectors queries are ranked exactly, above through the index, falling back to the exact scan
when the index's answer is short or looks like noise), ``distance_type``
(cosine/l2/inner_product). Without pgvector on the
server everything but ``search(query=...)`` works, which raises VectorSearchUnavailableError.
The schema is created on first use or by ``setup()`` under an advisory lock. Every operation
runs pipelined (statements whose results it does not need are sent without waiting) unless
``pipeline=False``. ``AsyncPostgresStore`` (also ``aio``) is the asyncio twin. SQL lives in
``waypoint.store._sql``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from waypoint._ops import Op
from waypoint._pg import borrow, require
from waypoint.store._items import IndexConfig, TTLConfig
from waypoint.store._sql.postgres_sql import PostgresDialect
from waypoint.store._sql.store import ThreadedStore
from waypoint.store._ttl import pick_ttl_config, sweeper_stopped
from waypoint.store.postgres._driver import run_op
from waypoint.store.postgres._pool import PoolConfig, pool_arguments

__all__ = ["AsyncPostgresStore", "PoolConfig", "PostgresStore"]


def __getattr__(name: str) -> Any:
    if name == "AsyncPostgresStore":  # LangGraph's import path
        from waypoint.store.postgres.aio import AsyncPostgresStore

        return AsyncPostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PostgresStore(ThreadedStore):
    """A store over a psycopg ``Connection`` or ``ConnectionPool``; ``ttl`` (or
    ``ttl_config``) a ``TTLConfig``; ``pipeline=False`` sends each statement on its own."""

    def __init__(
        self,
        conn: Any,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        ttl_config: TTLConfig | None = None,
        pipeline: bool = True,
    ) -> None:
        require(conn, True, "PostgresStore", "AsyncPostgresStore (waypoint.store.postgres.aio)")
        self._configure(index, pick_ttl_config(ttl, ttl_config))
        self.dialect = PostgresDialect(self.index_config)
        self.conn = conn
        self.lock = threading.RLock()
        self.pipeline = bool(pipeline)

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        conn_string: str,
        *,
        pipeline: bool = True,
        pool_config: PoolConfig | None = None,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        ttl_config: TTLConfig | None = None,
    ) -> Iterator["PostgresStore"]:
        """A store on its own autocommit connection, or on a ``psycopg_pool.ConnectionPool``
        built from ``pool_config`` (``PoolConfig``), closed on exit."""
        config = pick_ttl_config(ttl, ttl_config)
        if pool_config is not None:
            from psycopg_pool import ConnectionPool

            with ConnectionPool(conn_string, **pool_arguments(pool_config)) as pool, sweeper_stopped(
                cls(pool, index=index, ttl=config, pipeline=pipeline)
            ) as store:
                yield store
            return
        with psycopg.Connection.connect(conn_string, autocommit=True) as conn, sweeper_stopped(
            cls(conn, index=index, ttl=config, pipeline=pipeline)
        ) as store:
            yield store

    def _run(self, op: Op[Any], mode: str) -> Any:
        with borrow(self.conn, self.lock) as conn:
            return run_op(conn, op, mode, self.pipeline)
