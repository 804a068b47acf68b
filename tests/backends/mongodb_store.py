"""Registers the MongoDB stores (sync and async clients) with the store conformance suite.

Each store gets its own database ``wp_store_<random>`` on the session's server (see
``_mongo_server``), dropped on exit.
"""

from __future__ import annotations

import asyncio
import secrets
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from tests.backends import StoreFactory
from tests.backends._mongo_server import mongo_uri


def new_store_db_name() -> str:
    """A fresh database name for one store (drop it when done)."""
    return f"wp_store_{secrets.token_hex(6)}"


@asynccontextmanager
async def mongodb_store(**kwargs: Any) -> AsyncIterator[Any]:
    from pymongo import MongoClient

    from waypoint.store.mongodb import MongoDBStore

    uri = await asyncio.to_thread(mongo_uri)
    name = new_store_db_name()
    client: MongoClient = MongoClient(uri)
    try:
        store = MongoDBStore(client, name, **kwargs)
        await asyncio.to_thread(store.setup)
        try:
            yield store
        finally:
            store.stop_ttl_sweeper(timeout=5)
    finally:
        await asyncio.to_thread(client.drop_database, name)
        client.close()


@asynccontextmanager
async def mongodb_store_async(**kwargs: Any) -> AsyncIterator[Any]:
    from waypoint.store.mongodb.aio import AsyncMongoDBStore

    uri = await asyncio.to_thread(mongo_uri)
    name = new_store_db_name()
    async with AsyncMongoDBStore.from_conn_string(uri, name, **kwargs) as store:
        try:
            yield store
        finally:
            await store.client.drop_database(name)


def store_factories() -> dict[str, StoreFactory]:
    return {"mongodb-store": mongodb_store, "mongodb-store-async": mongodb_store_async}
