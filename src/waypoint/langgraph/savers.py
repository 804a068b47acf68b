"""Waypoint's checkpoint savers as LangGraph ``BaseCheckpointSaver`` subclasses.

Each class takes the same arguments as waypoint's class of the same name (which follow
LangGraph's), e.g. ``SqliteSaver.from_conn_string("app.db")`` or
``PostgresSaver.from_conn_string(url)``; the waypoint saver underneath is ``.waypoint``.
"""

from __future__ import annotations

from typing import Any

from waypoint.langgraph._saver import AsyncSaverAdapter, SaverAdapter, SyncSaverAdapter


class InMemorySaver(SaverAdapter):
    """Waypoint's in-memory saver (item logs as shared lists) for LangGraph graphs."""

    waypoint_class = "waypoint.checkpoint.memory:InMemorySaver"

    def __enter__(self) -> "InMemorySaver":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    async def __aenter__(self) -> "InMemorySaver":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None


MemorySaver = InMemorySaver


class SqliteSaver(SyncSaverAdapter):
    """Waypoint's SQLite saver (``conn``: a path or a ``sqlite3.Connection``)."""

    waypoint_class = "waypoint.checkpoint.sqlite:SqliteSaver"


class AsyncSqliteSaver(AsyncSaverAdapter):
    """Waypoint's aiosqlite saver (``conn``: an ``aiosqlite.Connection``)."""

    waypoint_class = "waypoint.checkpoint.sqlite.aio:AsyncSqliteSaver"


class PostgresSaver(SyncSaverAdapter):
    """Waypoint's PostgreSQL saver (``conn``: a psycopg ``Connection`` or ``ConnectionPool``)."""

    waypoint_class = "waypoint.checkpoint.postgres:PostgresSaver"


class AsyncPostgresSaver(AsyncSaverAdapter):
    """Waypoint's async PostgreSQL saver (an ``AsyncConnection`` or ``AsyncConnectionPool``)."""

    waypoint_class = "waypoint.checkpoint.postgres.aio:AsyncPostgresSaver"


class MongoDBSaver(SyncSaverAdapter):
    """Waypoint's MongoDB saver (``client``: a ``pymongo.MongoClient``, then ``db_name``)."""

    waypoint_class = "waypoint.checkpoint.mongodb:MongoDBSaver"


class AsyncMongoDBSaver(AsyncSaverAdapter):
    """Waypoint's async MongoDB saver (``client``: a ``pymongo.AsyncMongoClient``)."""

    waypoint_class = "waypoint.checkpoint.mongodb.aio:AsyncMongoDBSaver"


__all__ = [
    "AsyncMongoDBSaver",
    "AsyncPostgresSaver",
    "AsyncSqliteSaver",
    "InMemorySaver",
    "MemorySaver",
    "MongoDBSaver",
    "PostgresSaver",
    "SqliteSaver",
]
