"""Registers the PostgreSQL checkpoint savers (sync and asyncio) with the conformance suites.

Each factory creates its own database on the server named by ``WAYPOINT_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``) and drops it on exit.
"""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from waypoint.checkpoint.postgres import PostgresSaver
from waypoint.checkpoint.postgres.aio import AsyncPostgresSaver

ADMIN_URL = os.environ.get("WAYPOINT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database (its URL); dropped on exit."""
    try:
        admin = psycopg.Connection.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("WAYPOINT_TEST_REQUIRE_ALL"):
            raise
        pytest.skip(f"PostgreSQL unavailable at {ADMIN_URL}: {exc}")
    name = f"wp_test_{uuid.uuid4().hex[:12]}"
    strategy = " STRATEGY FILE_COPY" if admin.info.server_version >= 150000 else ""
    with admin:
        admin.execute(f"CREATE DATABASE {name}{strategy}")  # name is ours, not user input
        try:
            yield make_conninfo(ADMIN_URL, dbname=name)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


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
