"""Registers the MongoDB stores (sync and async clients) with the store conformance suite.

Each store gets its own database ``wp_store_<random>`` on the session's server (see
``_mongo_server``), dropped on exit.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from tests.backends import StoreFactory
from tests.backends._mongo_server import async_backend, new_db_name, sync_client_db


def new_store_db_name() -> str:
    """A fresh database name for one store (drop it when done)."""
    return new_db_name("wp_store")


@asynccontextmanager
async def mongodb_store(**kwargs: Any) -> AsyncIterator[Any]:
    from waypoint.store.mongodb import MongoDBStore

    async with sync_client_db("wp_store") as (client, name):
        store = MongoDBStore(client, name, **kwargs)
        await asyncio.to_thread(store.setup)
        try:
            yield store
        finally:
            store.stop_ttl_sweeper(timeout=5)


def mongodb_store_async(**kwargs: Any) -> Any:
    from waypoint.store.mongodb.aio import AsyncMongoDBStore

    return async_backend(AsyncMongoDBStore, "wp_store", **kwargs)


def store_factories() -> dict[str, StoreFactory]:
    return {"mongodb-store": mongodb_store, "mongodb-store-async": mongodb_store_async}
