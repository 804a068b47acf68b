"""Adapter savers and stores on real backends, each on a fresh database, for these tests.

Every factory is an async context manager built through the adapter's own LangGraph-style
constructor (``from_conn_string`` or the connection argument), so the constructors are what
the tests exercise.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from tests.backends._mongo_server import mongo_uri, new_db_name
from tests.backends._postgres import PLAIN_URL, fresh_database
from waypoint import langgraph as wl


@asynccontextmanager
async def _tmpdir() -> AsyncIterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="wp-lg-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@asynccontextmanager
async def memory_saver() -> AsyncIterator[Any]:
    yield wl.InMemorySaver()


@asynccontextmanager
async def sqlite_saver() -> AsyncIterator[Any]:
    async with _tmpdir() as tmp:
        with wl.SqliteSaver.from_conn_string(str(tmp / "lg.db")) as saver:
            saver.setup()
            yield saver


@asynccontextmanager
async def sqlite_async_saver() -> AsyncIterator[Any]:
    async with _tmpdir() as tmp:
        async with wl.AsyncSqliteSaver.from_conn_string(str(tmp / "lg.db")) as saver:
            await saver.setup()
            yield saver


@asynccontextmanager
async def postgres_saver() -> AsyncIterator[Any]:
    with fresh_database(PLAIN_URL, "wp_lg", file_copy=True) as url:
        with wl.PostgresSaver.from_conn_string(url) as saver:
            saver.setup()
            yield saver


@asynccontextmanager
async def postgres_async_saver() -> AsyncIterator[Any]:
    with fresh_database(PLAIN_URL, "wp_lg", file_copy=True) as url:
        async with wl.AsyncPostgresSaver.from_conn_string(url) as saver:
            await saver.setup()
            yield saver


@asynccontextmanager
async def mongodb_saver() -> AsyncIterator[Any]:
    uri = await asyncio.to_thread(mongo_uri)
    name = new_db_name("wp_lg")
    with wl.MongoDBSaver.from_conn_string(uri, name) as saver:
        try:
            yield saver
        finally:
            await asyncio.to_thread(saver.client.drop_database, name)


@asynccontextmanager
async def mongodb_async_saver() -> AsyncIterator[Any]:
    uri = await asyncio.to_thread(mongo_uri)
    name = new_db_name("wp_lg")
    async with wl.AsyncMongoDBSaver.from_conn_string(uri, name) as saver:
        try:
            yield saver
        finally:
            await saver.client.drop_database(name)


SAVERS = {
    "memory": memory_saver,
    "sqlite": sqlite_saver,
    "sqlite-async": sqlite_async_saver,
    "postgres": postgres_saver,
    "postgres-async": postgres_async_saver,
    "mongodb": mongodb_saver,
    "mongodb-async": mongodb_async_saver,
}
