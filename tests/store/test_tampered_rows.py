"""A store row whose timestamps were tampered with is a named error, never a raw exception
(issue 19 #11): CorruptStoreItemError naming namespace and key where the column can hold
garbage (SQLite integers, MongoDB fields), StorageError from the driver for PostgreSQL's
``infinity`` (its typed column holds nothing else)."""

from __future__ import annotations

import asyncio
import sqlite3

import psycopg
import pytest

from tests.backends._postgres import PLAIN_URL, fresh_database
from tests.store.mongodb.conftest import mongodb_store
from waypoint.errors import CorruptStoreItemError, StorageError
from waypoint.store.postgres import PostgresStore
from waypoint.store.sqlite import SqliteStore


@pytest.mark.parametrize("garbage", ["not a time", 10**30, -(10**30), 1e308])
def test_sqlite_tampered_created_at(garbage) -> None:  # type: ignore[no-untyped-def]
    store = SqliteStore(sqlite3.connect(":memory:", check_same_thread=False))
    store.setup()
    store.put(("users", "alice"), "profile", {"name": "alice"})
    store.put(("users", "bob"), "profile", {"name": "bob"})
    with store.conn:
        store.conn.execute("UPDATE waypoint_store SET created_at = ? WHERE prefix = 'users.alice'",
                           (garbage if isinstance(garbage, (str, float)) else str(garbage),))
    with pytest.raises(CorruptStoreItemError, match="'profile' in namespace \\('users', 'alice'\\)") as info:
        store.get(("users", "alice"), "profile")
    assert info.value.namespace == ("users", "alice") and info.value.key == "profile"
    with pytest.raises(CorruptStoreItemError):
        store.search(("users",))
    assert store.get(("users", "bob"), "profile").value == {"name": "bob"}


async def test_mongodb_tampered_created_at() -> None:
    async with mongodb_store() as store:
        await asyncio.to_thread(store.put, ("users", "alice"), "profile", {"name": "alice"})
        for garbage in ("not a time", 12, {"$date": "x"}):
            await asyncio.to_thread(store.collection.update_one, {"key": "profile"}, {"$set": {"created_at": garbage}})
            with pytest.raises(CorruptStoreItemError, match="'profile' in namespace \\('users', 'alice'\\)"):
                await asyncio.to_thread(store.get, ("users", "alice"), "profile")
            with pytest.raises(CorruptStoreItemError):
                await asyncio.to_thread(store.search, ("users",))


def test_postgres_infinite_created_at_is_a_storage_error() -> None:
    with fresh_database(PLAIN_URL, "wp_store") as url:
        with PostgresStore.from_conn_string(url) as store:
            store.setup()
            store.put(("users", "alice"), "profile", {"name": "alice"})
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("UPDATE waypoint_store SET created_at = 'infinity'")
            with pytest.raises(StorageError, match="timestamp"):
                store.get(("users", "alice"), "profile")
