"""Registers the PostgreSQL stores with the store conformance suite.

``postgres-store``/``postgres-store-async`` run on the machine's PostgreSQL
(``WAYPOINT_TEST_POSTGRES_URL``), which has no pgvector: there a store with an ``index`` cannot
answer ``search(query=...)`` (VectorSearchUnavailableError, tested in tests/store/postgres), so
these two skip the index-configured conformance tests. ``pgvector-store``/``pgvector-store-async``
run on the session's embedded pgvector server and take every test. Each factory creates its own
database ``wp_store_<random>`` and drops it on exit.
"""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Callable, Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.backends._pgvector_server import pgvector_url
from waypoint.store.postgres import PostgresStore
from waypoint.store.postgres.aio import AsyncPostgresStore

PLAIN_URL = os.environ.get(
    "WAYPOINT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new empty database on the server of ``admin_url`` (its URL); dropped on exit."""
    try:
        admin = psycopg.Connection.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("WAYPOINT_TEST_REQUIRE_ALL"):
            raise
        pytest.skip(f"PostgreSQL unavailable at {admin_url}: {exc}")
    name = f"wp_store_{uuid.uuid4().hex[:12]}"
    with admin:  # WAL_LOG (the default since 15) copies the tiny template fastest
        admin.execute(f"CREATE DATABASE {name}")  # name is ours, not user input
        try:
            yield make_conninfo(admin_url, dbname=name)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _factory(server: Callable[[], str], asynchronous: bool, vectors: bool) -> Any:
    @asynccontextmanager
    async def factory(**kwargs: Any) -> AsyncIterator[Any]:
        if kwargs.get("index") and not vectors:
            pytest.skip("semantic search needs pgvector: covered by the pgvector-store backends")
        with fresh_database(server()) as url:
            if asynchronous:
                async with AsyncPostgresStore.from_conn_string(url, **kwargs) as store:
                    await store.asetup()
                    yield store
            else:
                with PostgresStore.from_conn_string(url, **kwargs) as store:
                    store.setup()
                    yield store

    return factory


def store_factories() -> dict[str, Any]:
    plain = lambda: PLAIN_URL  # noqa: E731
    return {
        "postgres-store": _factory(plain, False, False),
        "postgres-store-async": _factory(plain, True, False),
        "pgvector-store": _factory(pgvector_url, False, True),
        "pgvector-store-async": _factory(pgvector_url, True, True),
    }
