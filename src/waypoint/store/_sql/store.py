"""The SQL stores' public methods, written once over two small drivers.

A concrete store supplies ``_run(op, mode)`` (sync) and ``_arun(op, mode)`` (async), each
running one core operation in one transaction. :class:`ThreadedStore` gives a blocking client
its async face (one worker-thread hop per batch) and a thread sweeper; :class:`BridgedStore`
gives an async client its sync face through ``waypoint._bridge`` (refusing with
SyncOnEventLoopError on the loop's own thread) and an asyncio-task sweeper (``store._ttl``).

Every batch: ensure the schema, plan (validate, compile filters, collect texts), encode values,
embed (outside any transaction), then run the core's batch operation with one timestamp.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from typing import Any, Iterable

from waypoint import _bridge
from waypoint._ops import Op
from waypoint._process import ForkAware
from waypoint.errors import VectorSearchUnavailableError
from waypoint.store._batch import _CHECKED_TYPES, BatchPlan, aembed_plan, embed_plan, plan_batch
from waypoint.store._embed import normalize_index
from waypoint.store._items import (
    GetOp, IndexConfig, ListNamespacesOp, Op as StoreOp, PutOp, Result, SearchOp, TTLConfig,
)
from waypoint.store._sql import core
from waypoint.store._sql.dialect import READ, SINGLE_READ, WRITE, StoreDialect
from waypoint.store._ttl import TaskSweeping, ThreadSweeping, normalize_ttl_config, utcnow
from waypoint.store.base import BaseStore


class SqlStore(ForkAware, BaseStore):
    """``batch``/``abatch``, setup and TTL sweeps of a SQL store, over its drivers."""

    supports_ttl = True
    dialect: StoreDialect

    def _configure(self, index: IndexConfig | None, ttl_config: TTLConfig | None) -> None:
        self._index = normalize_index(index)
        self.index_config = self._index.config if self._index else None
        self.embeddings = self._index.embedder if self._index else None
        self.ttl_config = normalize_ttl_config(ttl_config)  # type: ignore[assignment]
        self._clock = utcnow
        self._ready = False
        self._watch_fork()

    @abstractmethod
    def _run(self, op: Op[Any], mode: str) -> Any:
        """Run one core operation to completion in one transaction (sync client)."""

    @abstractmethod
    async def _arun(self, op: Op[Any], mode: str) -> Any:
        """Run one core operation to completion in one transaction (async client)."""

    # --- setup ------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create or migrate the schema (idempotent; also done automatically on first use)."""
        self._check_fork()
        self._run(core.setup(self.dialect), WRITE)
        self._ready = True

    async def asetup(self) -> None:
        """Async twin of :meth:`setup`."""
        self._check_fork()
        await self._arun(core.setup(self.dialect), WRITE)
        self._ready = True

    # --- batch ------------------------------------------------------------------------------

    def _prepare(self, ops: Iterable[StoreOp]) -> tuple[BatchPlan, BatchPlan, dict[int, str], str]:
        """The plan, the part of it to embed, the encoded values and the transaction mode."""
        plan = plan_batch(ops, self._index, keyword=self.dialect.keyword_search)
        if self._index is not None and not self.dialect.can_query:
            if plan.queries:
                raise VectorSearchUnavailableError(self.dialect.unavailable_message())
            to_embed = plan._replace(texts=[], owners=[])
        else:
            to_embed = plan
        values = core.encode_values(plan)
        if any(isinstance(op, PutOp) for op in plan.ops):
            mode = WRITE
        elif self.dialect.single_read_mode and (
            all(isinstance(op, GetOp) for op in plan.ops) or _one_statement(plan.ops)
        ):
            mode = SINGLE_READ
        else:
            mode = READ
        return plan, to_embed, values, mode

    def _single_get(self, ops: Iterable[StoreOp]) -> bool:
        """Whether ``ops`` is one ``get()`` built by ``BaseStore`` (already validated), which
        dialects with ``single_read_mode`` answer with one lean operation."""
        return (self.dialect.single_read_mode and type(ops) is list and len(ops) == 1
                and type(ops[0]) in _CHECKED_TYPES and isinstance(ops[0], GetOp))

    def batch(self, ops: Iterable[StoreOp]) -> list[Result]:
        """Apply ops in order (see ``BaseStore``); embedding happens before the transaction."""
        self._check_fork()
        if not self._ready:
            self.setup()
        if self._single_get(ops):
            return [self._run(core.get_one(self.dialect, ops[0], self._clock()), SINGLE_READ)]  # type: ignore[index, arg-type]
        plan, to_embed, values, mode = self._prepare(ops)
        vectors = embed_plan(to_embed, self._index, block=self.dialect.vector_block)
        return self._run(core.batch(self.dialect, plan, values, vectors, self._clock()), mode)  # type: ignore[no-any-return]

    async def abatch(self, ops: Iterable[StoreOp]) -> list[Result]:
        """Async twin of :meth:`batch`."""
        self._check_fork()
        if not self._ready:
            await self.asetup()
        if self._single_get(ops):
            op = core.get_one(self.dialect, ops[0], self._clock())  # type: ignore[index, arg-type]
            return [await self._arun(op, SINGLE_READ)]
        plan, to_embed, values, mode = self._prepare(ops)
        vectors = await aembed_plan(to_embed, self._index, block=self.dialect.vector_block)
        op = core.batch(self.dialect, plan, values, vectors, self._clock())
        return await self._arun(op, mode)  # type: ignore[no-any-return]

    # --- TTL --------------------------------------------------------------------------------

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many were removed."""
        self._check_fork()
        if not self._ready:
            self.setup()
        return self._run(core.sweep(self.dialect, self._clock()), WRITE)  # type: ignore[no-any-return]

    async def asweep_ttl(self) -> int:
        """Async twin of :meth:`sweep_ttl`."""
        self._check_fork()
        if not self._ready:
            await self.asetup()
        return await self._arun(core.sweep(self.dialect, self._clock()), WRITE)  # type: ignore[no-any-return]


def _one_statement(ops: list[StoreOp]) -> bool:
    """Whether a batch is one read answered by one statement: a listing of namespaces, or a
    search without a query (no ranking requests)."""
    return len(ops) == 1 and (
        isinstance(ops[0], ListNamespacesOp) or (isinstance(ops[0], SearchOp) and ops[0].query is None)
    )


class ThreadedStore(ThreadSweeping, SqlStore):
    """A store over a blocking client: async calls run in one worker-thread hop each."""

    async def _arun(self, op: Op[Any], mode: str) -> Any:
        return await asyncio.to_thread(self._run, op, mode)


class BridgedStore(_bridge.LoopBound, TaskSweeping, SqlStore):
    """A store over an async client: sync calls wait on its event loop from other threads."""

    def _run(self, op: Op[Any], mode: str) -> Any:
        return _bridge.wait(self._loop_for("batch"), self._arun(op, mode), "batch")

    async def setup(self) -> None:  # type: ignore[override]
        """Create or migrate the schema: ``await store.setup()``, as with LangGraph's async
        stores (``asetup()`` is the same coroutine)."""
        await self.asetup()

    def batch(self, ops: Iterable[StoreOp]) -> list[Result]:
        return _bridge.wait(self._loop_for("batch"), self.abatch(ops), "batch")

    def sweep_ttl(self) -> int:
        return _bridge.wait(self._loop_for("sweep_ttl"), self.asweep_ttl(), "sweep_ttl")


__all__ = ["BridgedStore", "SqlStore", "ThreadedStore"]
