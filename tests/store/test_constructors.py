"""Store constructors take LangGraph's arguments with LangGraph's meaning: ``ttl=`` with every
``TTLConfig`` key, ``index=``, PostgreSQL's ``pool_config=`` and ``pipeline=``; and the async
stores import from the package as in LangGraph. Checked against the installed
langgraph-checkpoint-sqlite/-postgres signatures, then by behaviour on real databases."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg_pool
import pytest

from tests.backends._postgres import PLAIN_URL
from tests.backends.postgres_store import fresh_database
from waypoint.errors import ConfigError
from waypoint.store.postgres import AsyncPostgresStore, PoolConfig, PostgresStore
from waypoint.store.sqlite import AsyncSqliteStore, SqliteStore

SECOND = 1 / 60  # TTLs are minutes
LANGGRAPH = {
    "SqliteStore": ("langgraph.store.sqlite", SqliteStore),
    "AsyncSqliteStore": ("langgraph.store.sqlite", AsyncSqliteStore),
    "PostgresStore": ("langgraph.store.postgres", PostgresStore),
    "AsyncPostgresStore": ("langgraph.store.postgres", AsyncPostgresStore),
}


def test_async_stores_import_from_the_package_and_from_aio() -> None:
    from waypoint.store.postgres.aio import AsyncPostgresStore as pg_aio
    from waypoint.store.sqlite.aio import AsyncSqliteStore as sqlite_aio

    assert AsyncSqliteStore is sqlite_aio and AsyncPostgresStore is pg_aio
    import waypoint.store.postgres as pg
    import waypoint.store.sqlite as lite

    assert {"AsyncSqliteStore", "SqliteStore"} <= set(lite.__all__)
    assert {"AsyncPostgresStore", "PoolConfig", "PostgresStore"} <= set(pg.__all__)
    with pytest.raises(AttributeError):
        lite.NoSuchStore  # noqa: B018


@pytest.mark.parametrize("name", sorted(LANGGRAPH))
def test_from_conn_string_takes_langgraphs_keyword_arguments(name: str) -> None:
    module, ours = LANGGRAPH[name]
    theirs = getattr(pytest.importorskip(module), name)
    mine = inspect.signature(ours.from_conn_string).parameters
    for pname, param in inspect.signature(theirs.from_conn_string).parameters.items():
        assert pname in mine, f"{name}.from_conn_string lacks LangGraph's {pname!r}"
        assert mine[pname].kind == param.kind, pname
    init = inspect.signature(ours.__init__).parameters
    assert "ttl" in init and "index" in init


def test_ttl_config_has_langgraphs_keys() -> None:
    from langgraph.store.base import TTLConfig as LGTTLConfig

    from waypoint.store.base import TTLConfig

    assert set(LGTTLConfig.__annotations__) <= set(TTLConfig.__annotations__)


@asynccontextmanager
async def opened(kind: str, tmp_path: Any, **kwargs: Any) -> AsyncIterator[Any]:
    """A store of ``kind`` opened through ``from_conn_string(**kwargs)`` on a fresh database."""
    if kind.startswith("sqlite"):
        path = str(tmp_path / f"{kind}-{len(list(tmp_path.iterdir()))}.db")
        if kind == "sqlite":
            with SqliteStore.from_conn_string(path, **kwargs) as store:
                yield store
        else:
            async with AsyncSqliteStore.from_conn_string(path, **kwargs) as store:
                yield store
        return
    with fresh_database(PLAIN_URL) as url:
        if kind == "postgres":
            with PostgresStore.from_conn_string(url, **kwargs) as store:
                yield store
        else:
            async with AsyncPostgresStore.from_conn_string(url, **kwargs) as store:
                yield store


async def call(store: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    if type(store).__name__.startswith("Async"):
        return await getattr(store, "a" + method)(*args, **kwargs)
    return await asyncio.to_thread(getattr(store, method), *args, **kwargs)


KINDS = ["sqlite", "sqlite-async", "postgres", "postgres-async"]


@pytest.mark.parametrize("kind", KINDS)
async def test_ttl_argument_means_what_langgraphs_does(kind: str, tmp_path: Any) -> None:
    ttl = {
        "default_ttl": 0.5 * SECOND,
        "refresh_on_read": False,
        "sweep_interval_minutes": 0.1 * SECOND,
        "omit_expired": True,
    }
    async with opened(kind, tmp_path, ttl=ttl) as store:
        assert store.ttl_config == ttl
        await call(store, "put", ("t",), "a", {"v": 1})  # default_ttl applies
        await call(store, "put", ("t",), "kept", {"v": 2}, ttl=None)
        await asyncio.sleep(0.3)
        assert (await call(store, "get", ("t",), "a")).value == {"v": 1}  # no refresh
        await asyncio.sleep(0.35)  # 0.65 s after the put: expired, and hidden before a sweep
        assert await call(store, "get", ("t",), "a") is None
        store.start_ttl_sweeper()  # every sweep_interval_minutes
        await asyncio.sleep(0.3)
        stopped = store.stop_ttl_sweeper(timeout=2)
        if inspect.isawaitable(stopped):
            stopped = await stopped
        assert stopped is True
        assert await call(store, "sweep_ttl") == 0  # the sweeper already deleted it
        assert [i.key for i in await call(store, "search", ("t",))] == ["kept"]


@pytest.mark.parametrize("kind", KINDS)
async def test_ttl_refresh_on_read_default(kind: str, tmp_path: Any) -> None:
    async with opened(kind, tmp_path, ttl={"default_ttl": 0.5 * SECOND}) as store:
        await call(store, "put", ("t",), "a", {"v": 1})
        await asyncio.sleep(0.3)
        await call(store, "get", ("t",), "a")  # refreshes: expiry now 0.8 s after the put
        await asyncio.sleep(0.35)
        assert (await call(store, "get", ("t",), "a")).value == {"v": 1}


@pytest.mark.parametrize("kind", KINDS)
async def test_bad_ttl_arguments_are_config_errors(kind: str, tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="omit_expired=False"):
        async with opened(kind, tmp_path, ttl={"omit_expired": False}):
            pass
    with pytest.raises(ConfigError, match="once"):
        async with opened(kind, tmp_path, ttl={"default_ttl": 1}, ttl_config={"default_ttl": 1}):
            pass
    with pytest.raises(ConfigError, match="unknown keys"):
        async with opened(kind, tmp_path, ttl={"default": 1}):
            pass


@pytest.mark.parametrize("kind", ["postgres", "postgres-async"])
async def test_pool_config_opens_a_pool(kind: str, tmp_path: Any) -> None:
    pool_config: PoolConfig = {"min_size": 1, "max_size": 3, "kwargs": {"application_name": "wp-pool"}}
    async with opened(kind, tmp_path, pool_config=pool_config) as store:
        pool = store.conn
        assert isinstance(pool, (psycopg_pool.ConnectionPool, psycopg_pool.AsyncConnectionPool))
        assert (pool.min_size, pool.max_size) == (1, 3)
        await asyncio.gather(*(call(store, "put", ("t",), str(i), {"i": i}) for i in range(6)))
        assert len(await call(store, "search", ("t",), limit=10)) == 6
        if kind == "postgres":
            with pool.connection() as conn:
                name = conn.execute("SHOW application_name").fetchone()[0]
        else:
            async with pool.connection() as conn:
                name = (await (await conn.execute("SHOW application_name")).fetchone())[0]
        assert name == "wp-pool"
    assert pool.closed


@pytest.mark.parametrize("kind", ["postgres", "postgres-async"])
@pytest.mark.parametrize("pipeline", [True, False])
async def test_pipeline_switch(kind: str, pipeline: bool, tmp_path: Any) -> None:
    async with opened(kind, tmp_path, pipeline=pipeline) as store:
        assert store.pipeline is pipeline
        seen: list[bool] = []
        conn = store.conn
        orig = type(conn).transaction

        def spy(self: Any, *a: Any, **k: Any) -> Any:
            seen.append(self._pipeline is not None)  # psycopg's pipeline-mode marker
            return orig(self, *a, **k)

        type(conn).transaction = spy  # type: ignore[method-assign]
        try:
            await call(store, "put", ("t",), "a", {"v": 1})
            assert (await call(store, "get", ("t",), "a")).value == {"v": 1}
        finally:
            type(conn).transaction = orig  # type: ignore[method-assign]
        assert seen and set(seen) == {pipeline}
