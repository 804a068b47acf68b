"""Registers the MongoDB checkpoint savers (sync and async clients) with the conformance suites.

Each saver gets its own database on the session's server (see ``_mongo_server``), dropped on exit.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from tests.backends._mongo_server import async_backend, sync_client_db


@asynccontextmanager
async def mongodb_sync_saver(**kwargs: Any) -> AsyncIterator[Any]:
    from waypoint.checkpoint.mongodb import MongoDBSaver

    async with sync_client_db("wp_test") as (client, name):
        saver = MongoDBSaver(client, name, **kwargs)
        await asyncio.to_thread(saver.setup)
        yield saver


def mongodb_async_saver(**kwargs: Any) -> Any:
    from waypoint.checkpoint.mongodb.aio import AsyncMongoDBSaver

    return async_backend(AsyncMongoDBSaver, "wp_test", **kwargs)


def saver_factories() -> dict[str, Any]:
    return {"mongodb": mongodb_sync_saver, "mongodb-async": mongodb_async_saver}
