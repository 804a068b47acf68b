"""MongoDB-specific behaviour: indexes, round trips, the async store's sync face, Atlas-mode
documents and the constructors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bson.binary import Binary, BinaryVectorDtype
from pymongo import MongoClient, monitoring

from tests.backends._mongo_server import mongo_uri
from tests.backends.mongodb_store import new_store_db_name
from waypoint.errors import SyncOnEventLoopError
from waypoint.store.base import GetOp, PutOp
from waypoint.store.mongodb import AsyncMongoDBStore, MongoDBStore


async def test_setup_creates_unique_recency_and_ttl_indexes(sync_store) -> None:
    info = sync_store.collection.index_information()
    assert info["ns_key"]["key"] == [("ns", 1), ("key", 1)] and info["ns_key"]["unique"]
    assert info["expires_at_ttl"]["key"] == [("expires_at", 1)]
    assert info["expires_at_ttl"]["expireAfterSeconds"] == 0
    assert info["recent"]["key"] == [("updated_at", -1), ("ns_sort", 1), ("key", 1)]
    sync_store.setup()  # idempotent


async def test_ttl_fields_follow_puts_and_reads(sync_store) -> None:
    sync_store.put(("t",), "k", {"v": 1}, ttl=5)
    first = sync_store.collection.find_one({"key": "k"})
    assert first["ttl"] == 5 and first["expires_at"] > first["updated_at"]
    await asyncio.sleep(0.01)
    sync_store.get(("t",), "k")  # refresh on read (default)
    assert sync_store.collection.find_one({"key": "k"})["expires_at"] > first["expires_at"]
    sync_store.put(("t",), "k", {"v": 2}, ttl=None)
    raw = sync_store.collection.find_one({"key": "k"})
    assert "ttl" not in raw and "expires_at" not in raw


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


def test_a_batch_of_puts_is_one_bulk_write() -> None:
    listener = _Commands()
    client: MongoClient = MongoClient(mongo_uri(), event_listeners=[listener])
    name = new_store_db_name()
    try:
        store = MongoDBStore(client, name)
        store.setup()
        listener.names.clear()
        store.batch([PutOp(("b",), str(i), {"i": i}) for i in range(50)])
        assert listener.names == ["delete", "update"]  # expired-item guard, then 50 upserts
        listener.names.clear()
        ops = [PutOp(("b",), "x", {"i": 1}), GetOp(("b",), "x"), PutOp(("b",), "y", {"i": 2})]
        results = store.batch(ops)
        assert results[1].value == {"i": 1}
        assert listener.names == ["delete", "update", "find", "delete", "update"]
    finally:
        client.drop_database(name)
        client.close()


async def test_async_store_sync_face_refuses_on_its_loop(async_store) -> None:
    with pytest.raises(SyncOnEventLoopError, match="await abatch"):
        async_store.put(("a",), "k", {"v": 1})
    with pytest.raises(SyncOnEventLoopError):
        async_store.get(("a",), "k")
    with pytest.raises(SyncOnEventLoopError):
        async_store.sweep_ttl()
    # From another thread the sync face works.
    await asyncio.to_thread(async_store.put, ("a",), "k", {"v": 1})
    assert (await async_store.aget(("a",), "k")).value == {"v": 1}


def test_unbound_async_store_sync_face_is_a_clear_error() -> None:
    from pymongo import AsyncMongoClient

    store = AsyncMongoDBStore(AsyncMongoClient(connect=False))
    with pytest.raises(SyncOnEventLoopError, match="not bound"):
        store.get(("a",), "k")


async def test_async_sweeper_starts_from_another_thread(async_store) -> None:
    task = await asyncio.to_thread(async_store.start_ttl_sweeper, 0.001)
    assert task is async_store.start_ttl_sweeper()  # idempotent, same task
    assert await async_store.stop_ttl_sweeper(timeout=2) is True


def test_sync_from_conn_string() -> None:
    name = new_store_db_name()
    with MongoDBStore.from_conn_string(mongo_uri(), db_name=name, collection_name="mem") as store:
        store.put(("a",), "k", {"v": 1})
        assert store.collection.name == "mem" and store.get(("a",), "k").value == {"v": 1}
        store.client.drop_database(name)


async def test_async_from_conn_string_with_own_client() -> None:
    from pymongo import AsyncMongoClient

    uri = await asyncio.to_thread(mongo_uri)
    name = new_store_db_name()
    client: AsyncMongoClient = AsyncMongoClient(uri)
    try:
        store = AsyncMongoDBStore(client, name, collection_name="mem")
        await store.setup()
        await store.aput(("a",), "k", {"v": 1})
        assert [i.key for i in await store.asearch(("a",))] == ["k"]
    finally:
        await client.drop_database(name)
        await client.close()


async def test_atlas_mode_writes_embedding_and_namespace_prefixes(sync_store) -> None:
    index = {"dims": 2, "embed": lambda texts: [[3.0, 4.0]] * len(texts), "fields": ["t"]}
    store = MongoDBStore(sync_store.client, sync_store.db.name, index=index, vector_index={})
    store.put(("a", "b"), "k", {"t": "x"})
    raw = store.collection.find_one({"key": "k"})
    assert raw["ns_prefixes"] == ["a", "a.b"]
    assert isinstance(raw["embedding"], Binary) and raw["embedding"].subtype == 9
    assert raw["embedding"].as_vector().dtype == BinaryVectorDtype.FLOAT32
    assert raw["embedding"].as_vector().data == pytest.approx([0.6, 0.8])
    assert store.get(("a", "b"), "k").value == {"t": "x"}
