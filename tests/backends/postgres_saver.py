"""Registers the PostgreSQL checkpoint savers (sync and asyncio) with the conformance suites.

Each factory creates its own database on the server named by ``WAYPOINT_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``) and drops it on exit.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, ContextManager

from tests.backends._postgres import PLAIN_URL
from tests.backends._postgres import fresh_database as _fresh_database
from waypoint.checkpoint.postgres import PostgresSaver
from waypoint.checkpoint.postgres.aio import AsyncPostgresSaver

ADMIN_URL = PLAIN_URL


def fresh_database() -> ContextManager[str]:
    """A new empty database (its URL); dropped on exit."""
    return _fresh_database(ADMIN_URL, "wp_test", file_copy=True)


@asynccontextmanager
async def _postgres() -> AsyncIterator[Any]:
    with fresh_database() as url:
        with PostgresSaver.from_conn_string(url) as saver:
            saver.setup()
            yield saver


@asynccontextmanager
async def _postgres_async() -> AsyncIterator[Any]:
    with fresh_database() as url:
        async with AsyncPostgresSaver.from_conn_string(url) as saver:
            await saver.asetup()
            yield saver


def saver_factories() -> dict[str, Any]:
    return {"postgres": _postgres, "postgres-async": _postgres_async}
