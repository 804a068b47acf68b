"""MongoDB stores: ``MongoDBStore`` (sync, ``pymongo.MongoClient``) here and
``AsyncMongoDBStore`` (pymongo's native ``AsyncMongoClient``) in ``.aio``.

Both drive the same operations (``_core``); see docs/backends/mongodb-store.md for the document
layout, indexes, filter translation, vector search and the opt-in Atlas mode.
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping

from pymongo import MongoClient

from waypoint._ops import Op as CoreOp
from waypoint._ops import run
from waypoint.store._batch import aembed_plan, embed_plan, plan_batch
from waypoint.store._ttl import ThreadSweeping, sweeper_stopped
from waypoint.store.base import BaseStore, IndexConfig, Op, Result, TTLConfig
from waypoint.store.mongodb import _core
from waypoint.store.mongodb._core import DEFAULT_COLLECTION, DEFAULT_DB_NAME
from waypoint.store.mongodb._exec import SyncExecutor


class MongoDBStore(ThreadSweeping, BaseStore):
    """A store in one MongoDB collection through a sync ``MongoClient``.

    ``index`` enables semantic search (exact cosine in numpy over the namespace- and
    filter-restricted candidates, on any MongoDB); ``vector_index`` opts in to Atlas
    ``$vectorSearch`` instead (see the docs). ``ttl_config`` as for every store. Call
    ``setup()`` once (``from_conn_string`` does) to create the indexes. Async methods run the
    same operations in a worker thread; embedding is awaited natively. Besides the TTL sweeper
    (``start_ttl_sweeper``), the server's TTL index also deletes expired items (within about a
    minute); reads never return them either way.
    """

    supports_ttl = True

    def __init__(
        self,
        client: MongoClient,
        db_name: str = DEFAULT_DB_NAME,
        *,
        collection_name: str = DEFAULT_COLLECTION,
        index: IndexConfig | None = None,
        ttl_config: TTLConfig | None = None,
        vector_index: Mapping[str, Any] | None = None,
    ) -> None:
        _core.configure(self, client, db_name, collection_name, index, ttl_config, vector_index)

    @classmethod
    @contextmanager
    def from_conn_string(
        cls, conn_string: str, db_name: str = DEFAULT_DB_NAME, **kwargs: Any
    ) -> Iterator["MongoDBStore"]:
        """A ready store (indexes created) on a new client, closed on exit."""
        client: MongoClient = MongoClient(conn_string)
        try:
            store = cls(client, db_name, **kwargs)
            store.setup()
            with sweeper_stopped(store):
                yield store
        finally:
            client.close()

    def _run(self, op: CoreOp[Any]) -> Any:
        with SyncExecutor(self.collection) as execute:
            return run(op, execute)

    def setup(self) -> None:
        """Create the collection's indexes (idempotent)."""
        self._run(_core.setup(self._ctx))

    def atlas_index_definition(self) -> dict[str, Any]:
        """The Atlas ``vectorSearch`` index to create for ``vector_index`` mode."""
        return _core.atlas_index_definition(self._ctx)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Apply ops in order (see ``BaseStore``); embeds first, then one bulk write per run
        of writes."""
        plan = plan_batch(ops, self._ctx.index, keyword=True)
        vectors = embed_plan(plan, self._ctx.index)
        return self._run(_core.apply(self._ctx, plan, vectors))  # type: ignore[no-any-return]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of :meth:`batch`: awaits the embedder, then runs in a worker thread."""
        plan = plan_batch(ops, self._ctx.index, keyword=True)
        vectors = await aembed_plan(plan, self._ctx.index)
        op = _core.apply(self._ctx, plan, vectors)
        return await asyncio.to_thread(self._run, op)  # type: ignore[no-any-return]

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many were removed."""
        return self._run(_core.sweep(self._ctx))  # type: ignore[no-any-return]

    async def asweep_ttl(self) -> int:
        """Async twin of :meth:`sweep_ttl`."""
        return await asyncio.to_thread(self.sweep_ttl)


__all__ = ["MongoDBStore"]

from waypoint.store.mongodb.aio import AsyncMongoDBStore  # noqa: E402  (re-export)

__all__ += ["AsyncMongoDBStore"]
