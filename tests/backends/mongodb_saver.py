"""Registers the MongoDB checkpoint savers (sync and async clients) with the conformance suites.

Each saver gets its own database on the session's server (see ``_mongo_server``), dropped on exit.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from tests.backends._mongo_server import mongo_uri, new_db_name


@asynccontextmanager
async def mongodb_sync_saver(**kwargs: Any) -> AsyncIterator[Any]:
    from pymongo import MongoClient

    from waypoint.checkpoint.mongodb import MongoDBSaver

    uri = await asyncio.to_thread(mongo_uri)
    name = new_db_name()
    client: MongoClient = MongoClient(uri)
    try:
        saver = MongoDBSaver(client, name, **kwargs)
        await asyncio.to_thread(saver.setup)
        yield saver
    finally:
        await asyncio.to_thread(client.drop_database, name)
        client.close()


@asynccontextmanager
async def mongodb_async_saver(**kwargs: Any) -> AsyncIterator[Any]:
    from waypoint.checkpoint.mongodb.aio import AsyncMongoDBSaver

    uri = await asyncio.to_thread(mongo_uri)
    name = new_db_name()
    async with AsyncMongoDBSaver.from_conn_string(uri, name, **kwargs) as saver:
        try:
            yield saver
        finally:
            await saver.client.drop_database(name)


def saver_factories() -> dict[str, Any]:
    return {"mongodb": mongodb_sync_saver, "mongodb-async": mongodb_async_saver}
