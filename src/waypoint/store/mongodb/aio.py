"""``AsyncMongoDBStore``: the MongoDB store through pymongo's native ``AsyncMongoClient``.

It runs the same operations as ``MongoDBStore`` (``_core``) with the async driver loop. Its
sync methods serve callers on other threads by waiting on the store's event loop, and refuse
with ``SyncOnEventLoopError`` on that loop's own thread, where they would deadlock.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Iterable, Mapping

from pymongo import AsyncMongoClient

from waypoint._bridge import LoopBound, running_loop, wait
from waypoint._ops import Op as CoreOp
from waypoint._ops import arun
from waypoint.store._batch import aembed_plan, plan_batch
from waypoint.store._ttl import TaskSweeping, asweeper_stopped
from waypoint.store.base import BaseStore, IndexConfig, Op, Result, TTLConfig
from waypoint.store.mongodb import _core
from waypoint.store.mongodb._core import DEFAULT_COLLECTION, DEFAULT_DB_NAME
from waypoint.store.mongodb._exec import AsyncExecutor


class AsyncMongoDBStore(LoopBound, TaskSweeping, BaseStore):
    """A store in one MongoDB collection through an ``AsyncMongoClient``, bound to one loop.

    Arguments as for ``MongoDBStore``. Call ``await setup()`` once (``from_conn_string``
    does). The sync face (``get``, ``put``, ...) works from threads other than the loop's.
    """

    supports_ttl = True

    def __init__(
        self,
        client: AsyncMongoClient,
        db_name: str = DEFAULT_DB_NAME,
        *,
        collection_name: str = DEFAULT_COLLECTION,
        index: IndexConfig | None = None,
        ttl_config: TTLConfig | None = None,
        vector_index: Mapping[str, Any] | None = None,
    ) -> None:
        _core.configure(self, client, db_name, collection_name, index, ttl_config, vector_index)
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conn_string: str, db_name: str = DEFAULT_DB_NAME, **kwargs: Any
    ) -> AsyncIterator["AsyncMongoDBStore"]:
        """A ready store (indexes created) on a new client, closed on exit."""
        client: AsyncMongoClient = AsyncMongoClient(conn_string)
        try:
            store = cls(client, db_name, **kwargs)
            await store.setup()
            async with asweeper_stopped(store):
                yield store
        finally:
            await client.close()

    async def _run(self, op: CoreOp[Any]) -> Any:
        self._bind_loop()
        async with AsyncExecutor(self.collection) as execute:
            return await arun(op, execute)

    async def setup(self) -> None:
        """Create the collection's indexes (idempotent)."""
        await self._run(_core.setup(self._ctx))

    def atlas_index_definition(self) -> dict[str, Any]:
        """The Atlas ``vectorSearch`` index to create for ``vector_index`` mode."""
        return _core.atlas_index_definition(self._ctx)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Apply ops in order (see ``BaseStore``); embeds first, then one bulk write per run
        of writes."""
        plan = plan_batch(ops, self._ctx.index, keyword=True)
        vectors = await aembed_plan(plan, self._ctx.index)
        return await self._run(_core.apply(self._ctx, plan, vectors))  # type: ignore[no-any-return]

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Sync face of :meth:`abatch`, for threads other than the store's loop."""
        return wait(self._loop_for("batch"), self.abatch(ops), "batch")

    async def asweep_ttl(self) -> int:
        """Delete expired items now; returns how many were removed."""
        return await self._run(_core.sweep(self._ctx))  # type: ignore[no-any-return]

    def sweep_ttl(self) -> int:
        """Sync face of :meth:`asweep_ttl`."""
        return wait(self._loop_for("sweep_ttl"), self.asweep_ttl(), "sweep_ttl")


__all__ = ["AsyncMongoDBStore"]
