"""Registers the PostgreSQL stores with the store conformance suite.

``postgres-store``/``postgres-store-async`` run on the machine's PostgreSQL
(``WAYPOINT_TEST_POSTGRES_URL``), which has no pgvector: there a store with an ``index`` cannot
answer ``search(query=...)`` (VectorSearchUnavailableError, tested in tests/store/postgres), so
these two skip the index-configured conformance tests. ``pgvector-store``/``pgvector-store-async``
run on the session's embedded pgvector server and take every test. Each factory creates its own
database ``wp_store_<random>`` and drops it on exit.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, ContextManager

import pytest

from tests.backends._pgvector_server import pgvector_url
from tests.backends._postgres import PLAIN_URL
from tests.backends._postgres import fresh_database as _fresh_database
from waypoint.store.postgres import PostgresStore
from waypoint.store.postgres.aio import AsyncPostgresStore

def fresh_database(admin_url: str) -> ContextManager[str]:
    """A new empty database on the server of ``admin_url`` (its URL); dropped on exit. WAL_LOG
    (the default since 15) copies the tiny template fastest."""
    return _fresh_database(admin_url, "wp_store")


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
