"""The SQL stores' public methods, written once over two small drivers.

A concrete store supplies ``_run(op, mode)`` (sync) and ``_arun(op, mode)`` (async), each
running one core operation in one transaction. :class:`ThreadedStore` gives a blocking client
its async face (one worker-thread hop per batch) and a thread sweeper; :class:`BridgedStore`
gives an async client its sync face through ``waypoint._bridge`` (refusing with
SyncOnEventLoopError on the loop's own thread) and an asyncio-task sweeper.

Every batch: ensure the schema, plan (validate, compile filters, collect texts), encode values,
embed (outside any transaction), then run the core's batch operation with one timestamp.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from abc import abstractmethod
from typing import Any, Iterable

from waypoint import _bridge
from waypoint._ops import Op
from waypoint.errors import SyncOnEventLoopError, VectorSearchUnavailableError
from waypoint.store._batch import BatchPlan, aembed_plan, embed_plan, plan_batch
from waypoint.store._embed import normalize_index
from waypoint.store._items import IndexConfig, Op as StoreOp, PutOp, Result, TTLConfig
from waypoint.store._sql import core
from waypoint.store._sql.dialect import READ, WRITE, StoreDialect
from waypoint.store._ttl import (
    TaskSweeper,
    ThreadSweeper,
    normalize_ttl_config,
    sweep_interval_seconds,
    utcnow,
)
from waypoint.store.base import BaseStore


class SqlStore(BaseStore):
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

    @abstractmethod
    def _run(self, op: Op[Any], mode: str) -> Any:
        """Run one core operation to completion in one transaction (sync client)."""

    @abstractmethod
    async def _arun(self, op: Op[Any], mode: str) -> Any:
        """Run one core operation to completion in one transaction (async client)."""

    # --- setup ------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create or migrate the schema (idempotent; also done automatically on first use)."""
        self._run(core.setup(self.dialect), WRITE)
        self._ready = True

    async def asetup(self) -> None:
        """Async twin of :meth:`setup`."""
        await self._arun(core.setup(self.dialect), WRITE)
        self._ready = True

    # --- batch ------------------------------------------------------------------------------

    def _prepare(self, ops: Iterable[StoreOp]) -> tuple[BatchPlan, BatchPlan, dict[int, str], str]:
        """The plan, the part of it to embed, the encoded values and the transaction mode."""
        plan = plan_batch(ops, self._index)
        if self._index is not None and not self.dialect.can_query:
            if plan.queries:
                raise VectorSearchUnavailableError(self.dialect.unavailable_message())
            to_embed = plan._replace(texts=[], owners=[])
        else:
            to_embed = plan
        values = core.encode_values(plan)
        mode = WRITE if any(isinstance(op, PutOp) for op in plan.ops) else READ
        return plan, to_embed, values, mode

    def batch(self, ops: Iterable[StoreOp]) -> list[Result]:
        """Apply ops in order (see ``BaseStore``); embedding happens before the transaction."""
        if not self._ready:
            self.setup()
        plan, to_embed, values, mode = self._prepare(ops)
        vectors = embed_plan(to_embed, self._index)
        return self._run(core.batch(self.dialect, plan, values, vectors, self._clock()), mode)  # type: ignore[no-any-return]

    async def abatch(self, ops: Iterable[StoreOp]) -> list[Result]:
        """Async twin of :meth:`batch`."""
        if not self._ready:
            await self.asetup()
        plan, to_embed, values, mode = self._prepare(ops)
        vectors = await aembed_plan(to_embed, self._index)
        op = core.batch(self.dialect, plan, values, vectors, self._clock())
        return await self._arun(op, mode)  # type: ignore[no-any-return]

    # --- TTL --------------------------------------------------------------------------------

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many were removed."""
        if not self._ready:
            self.setup()
        return self._run(core.sweep(self.dialect, self._clock()), WRITE)  # type: ignore[no-any-return]

    async def asweep_ttl(self) -> int:
        """Async twin of :meth:`sweep_ttl`."""
        if not self._ready:
            await self.asetup()
        return await self._arun(core.sweep(self.dialect, self._clock()), WRITE)  # type: ignore[no-any-return]


class ThreadedStore(SqlStore):
    """A store over a blocking client: async calls run in one worker-thread hop each."""

    _sweeper: ThreadSweeper | None = None

    async def _arun(self, op: Op[Any], mode: str) -> Any:
        return await asyncio.to_thread(self._run, op, mode)

    def start_ttl_sweeper(
        self, sweep_interval_minutes: float | None = None
    ) -> concurrent.futures.Future[None]:
        """Sweep expired items every ``sweep_interval_minutes`` (default: ``ttl_config``'s,
        else 60) on a daemon thread; the future completes when it stops. Idempotent."""
        if self._sweeper is not None and self._sweeper.running:
            return self._sweeper.future
        interval = sweep_interval_seconds(self.ttl_config, sweep_interval_minutes)
        self._sweeper = ThreadSweeper(self, lambda store: store.sweep_ttl(), interval)
        return self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper, waiting up to ``timeout`` seconds; True once it has stopped."""
        sweeper = self._sweeper
        if sweeper is None:
            return True
        stopped = sweeper.stop(timeout)
        if stopped:
            self._sweeper = None
        return stopped


class BridgedStore(SqlStore):
    """A store over an async client: sync calls wait on its event loop from other threads."""

    loop: asyncio.AbstractEventLoop | None = None
    _sweeper: TaskSweeper | None = None

    def _bind_loop(self) -> None:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()

    def _loop_for(self, what: str) -> asyncio.AbstractEventLoop:
        if self.loop is None:
            raise SyncOnEventLoopError(
                f"{what}() is the sync face of an async store that has not been used on an "
                f"event loop yet: create it inside 'async with' on the loop, or use "
                f"'await a{what}(...)'"
            )
        return self.loop

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

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> asyncio.Task[None]:
        """Sweep expired items every ``sweep_interval_minutes`` in a task on the running loop
        (call it there); returns the task. Idempotent."""
        if self._sweeper is not None and self._sweeper.running and self._sweeper.task is not None:
            return self._sweeper.task
        interval = sweep_interval_seconds(self.ttl_config, sweep_interval_minutes)
        self._sweeper = TaskSweeper(self, lambda store: store.asweep_ttl(), interval)
        return self._sweeper.start()

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper task, waiting up to ``timeout`` seconds; True once it has ended."""
        sweeper = self._sweeper
        if sweeper is None:
            return True
        stopped = await sweeper.stop(timeout)
        if stopped:
            self._sweeper = None
        return stopped


__all__ = ["BridgedStore", "SqlStore", "ThreadedStore"]
