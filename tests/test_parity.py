"""Every public sync method of every saver and store has an ``a``-twin with the same signature."""

from __future__ import annotations

import importlib
import inspect

import pytest

SAVERS = [
    "waypoint.checkpoint.memory:InMemorySaver",
    "waypoint.checkpoint.sqlite:SqliteSaver",
    "waypoint.checkpoint.sqlite.aio:AsyncSqliteSaver",
    "waypoint.checkpoint.postgres:PostgresSaver",
    "waypoint.checkpoint.postgres.aio:AsyncPostgresSaver",
    "waypoint.checkpoint.mongodb:MongoDBSaver",
    "waypoint.checkpoint.mongodb.aio:AsyncMongoDBSaver",
]
STORES = [
    "waypoint.store.memory:InMemoryStore",
    "waypoint.store.sqlite:SqliteStore",
    "waypoint.store.sqlite.aio:AsyncSqliteStore",
    "waypoint.store.postgres:PostgresStore",
    "waypoint.store.postgres.aio:AsyncPostgresStore",
    "waypoint.store.mongodb:MongoDBStore",
    "waypoint.store.mongodb.aio:AsyncMongoDBStore",
]
GRAPH = ["waypoint.graph.state:CompiledStateGraph"]

SAVER_METHODS = ["get", "get_tuple", "list", "put", "put_writes", "delete_thread",
                 "delete_for_runs", "copy_thread", "prune", "put_batch", "acquire_lease",
                 "renew_lease", "release_lease"]
STORE_METHODS = ["batch", "get", "put", "delete", "search", "list_namespaces"]
GRAPH_METHODS = ["invoke", "stream", "get_state", "get_state_history", "update_state",
                 "bulk_update_state"]


def load(path: str) -> type:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def shape(fn: object) -> list[tuple[str, object, object]]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize(
    "path, methods",
    [(p, SAVER_METHODS) for p in SAVERS] + [(p, STORE_METHODS) for p in STORES] + [(p, GRAPH_METHODS) for p in GRAPH],
)
def test_sync_and_async_twins_match(path: str, methods: list[str]) -> None:
    cls = load(path)
    for name in methods:
        sync, twin = getattr(cls, name, None), getattr(cls, "a" + name, None)
        assert sync is not None and twin is not None, f"{cls.__name__} lacks {name} or a{name}"
        assert not inspect.iscoroutinefunction(sync), f"{cls.__name__}.{name} must be sync"
        assert inspect.iscoroutinefunction(twin) or inspect.isasyncgenfunction(twin) or name in ("list", "stream"), (
            f"{cls.__name__}.a{name} must be async"
        )
        assert shape(sync) == shape(twin), f"{cls.__name__}.{name} and a{name} differ in signature"


@pytest.mark.parametrize("path", SAVERS + STORES)
def test_no_abstract_method_left(path: str) -> None:
    cls = load(path)
    assert not getattr(cls, "__abstractmethods__", None), f"{cls.__name__}: {cls.__abstractmethods__}"


@pytest.mark.parametrize("path", [p for p in SAVERS + STORES if ".aio:" in p])
def test_async_backends_setup_is_awaited_as_in_langgraph(path: str) -> None:
    cls = load(path)
    assert inspect.iscoroutinefunction(cls.setup), f"{cls.__name__}.setup must be 'async def'"
