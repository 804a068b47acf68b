"""Waypoint storage for programs that run on LangGraph's own runtime.

    from langgraph.prebuilt import create_react_agent
    from waypoint.langgraph import PostgresSaver, PostgresStore

    with PostgresSaver.from_conn_string(url) as saver, PostgresStore.from_conn_string(url) as store:
        agent = create_react_agent(model, tools, checkpointer=saver, store=store)

Every class here subclasses LangGraph's ``BaseCheckpointSaver`` or ``BaseStore`` and stores
through waypoint's backend of the same name: the same tables, the same serializer, the same
item logs, so waypoint programs read threads written by LangGraph programs and the other way
round. This package is the only part of waypoint that imports ``langgraph`` (install
``waypoint-graph[langgraph]``).
"""

from waypoint.langgraph.savers import (
    AsyncMongoDBSaver,
    AsyncPostgresSaver,
    AsyncSqliteSaver,
    InMemorySaver,
    MemorySaver,
    MongoDBSaver,
    PostgresSaver,
    SqliteSaver,
)
from waypoint.langgraph.stores import (
    AsyncMongoDBStore,
    AsyncPostgresStore,
    AsyncSqliteStore,
    InMemoryStore,
    MongoDBStore,
    PostgresStore,
    SqliteStore,
)

__all__ = [
    "AsyncMongoDBSaver",
    "AsyncMongoDBStore",
    "AsyncPostgresSaver",
    "AsyncPostgresStore",
    "AsyncSqliteSaver",
    "AsyncSqliteStore",
    "InMemorySaver",
    "InMemoryStore",
    "MemorySaver",
    "MongoDBSaver",
    "MongoDBStore",
    "PostgresSaver",
    "PostgresStore",
    "SqliteSaver",
    "SqliteStore",
]
