"""Waypoint's stores as LangGraph ``BaseStore`` subclasses.

Each class takes the same arguments as waypoint's class of the same name (which follow
LangGraph's: ``index=`` for semantic search, ``ttl=`` for expiry), e.g.
``PostgresStore.from_conn_string(url, index={"dims": 1536, "embed": embeddings})``; the
waypoint store underneath is ``.waypoint``.
"""

from __future__ import annotations

from typing import Any

from waypoint.langgraph._store import AsyncStoreAdapter, StoreAdapter, SyncStoreAdapter


class InMemoryStore(StoreAdapter):
    """Waypoint's in-memory store for LangGraph graphs."""

    waypoint_class = "waypoint.store.memory:InMemoryStore"

    def __enter__(self) -> "InMemoryStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


class SqliteStore(SyncStoreAdapter):
    """Waypoint's SQLite store (``conn``: a path or a ``sqlite3.Connection``)."""

    waypoint_class = "waypoint.store.sqlite:SqliteStore"


class AsyncSqliteStore(AsyncStoreAdapter):
    """Waypoint's aiosqlite store."""

    waypoint_class = "waypoint.store.sqlite.aio:AsyncSqliteStore"


class PostgresStore(SyncStoreAdapter):
    """Waypoint's PostgreSQL store (pgvector when available)."""

    waypoint_class = "waypoint.store.postgres:PostgresStore"


class AsyncPostgresStore(AsyncStoreAdapter):
    """Waypoint's async PostgreSQL store."""

    waypoint_class = "waypoint.store.postgres.aio:AsyncPostgresStore"


class MongoDBStore(SyncStoreAdapter):
    """Waypoint's MongoDB store."""

    waypoint_class = "waypoint.store.mongodb:MongoDBStore"


class AsyncMongoDBStore(AsyncStoreAdapter):
    """Waypoint's async MongoDB store."""

    waypoint_class = "waypoint.store.mongodb.aio:AsyncMongoDBStore"


__all__ = [
    "AsyncMongoDBStore",
    "AsyncPostgresStore",
    "AsyncSqliteStore",
    "InMemoryStore",
    "MongoDBStore",
    "PostgresStore",
    "SqliteStore",
]
