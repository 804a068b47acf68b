"""The public saver methods, written once for every SQL saver and both faces.

A concrete saver supplies four drivers: ``_run(op, mode, what)`` / ``_stream(op, what)`` for
the sync face and ``_arun(op, mode)`` / ``_astream(op)`` for the async face. Two mixins give the
face a backend does not have natively: :class:`ThreadedAsyncFace` (a blocking client serves
async callers from worker threads) and :class:`BridgedSyncFace` (an async client serves sync
callers from other threads through ``waypoint._bridge``, refusing on its own loop's thread).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from waypoint import _bridge
from waypoint._process import ForkAware
from waypoint._ops import Op
from waypoint.checkpoint._sql import leases, ops
from waypoint.checkpoint._sql.dialect import Dialect
from waypoint.checkpoint._sql.requests import READ, WRITE
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PruneStrategy,
)
from waypoint.checkpoint.base.lease import Lease


class SqlSaver(ForkAware, BaseCheckpointSaver):
    """Every public method of a SQL checkpoint saver, as one line over its drivers."""

    dialect: Dialect
    _ready = False  # schema known to be set up

    def __init__(self, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self._watch_fork()

    @abstractmethod
    def _run(self, op: Op[Any], mode: str, what: str) -> Any: ...

    @abstractmethod
    def _stream(self, op: Op[Any], what: str) -> Iterator[Any]: ...

    @abstractmethod
    async def _arun(self, op: Op[Any], mode: str) -> Any: ...

    @abstractmethod
    def _astream(self, op: Op[Any]) -> AsyncIterator[Any]: ...

    # --- setup ------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create or migrate the schema (idempotent; also done automatically on first use)."""
        self._check_fork()
        self._run(ops.setup(self.dialect), WRITE, "setup")
        self._ready = True

    async def asetup(self) -> None:
        self._check_fork()
        await self._arun(ops.setup(self.dialect), WRITE)
        self._ready = True

    def _call(self, op: Op[Any], mode: str, what: str) -> Any:
        self._check_fork()
        if not self._ready:
            self._run(ops.setup(self.dialect), WRITE, what)
            self._ready = True
        return self._run(op, mode, what)

    async def _acall(self, op: Op[Any], mode: str) -> Any:
        self._check_fork()
        if not self._ready:
            await self.asetup()
        return await self._arun(op, mode)

    def _iter(self, op: Op[Any], what: str) -> Iterator[Any]:
        self._check_fork()
        if not self._ready:
            self._run(ops.setup(self.dialect), WRITE, what)
            self._ready = True
        return self._stream(op, what)

    async def _aiter(self, op: Op[Any]) -> AsyncIterator[Any]:
        self._check_fork()
        if not self._ready:
            await self.asetup()
        async for item in self._astream(op):
            yield item

    # --- sync face --------------------------------------------------------------------------

    def get_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        return self._call(ops.get_tuple(self.dialect, self.serde, config), READ, "get_tuple")

    def list(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        op = ops.list_checkpoints(self.dialect, self.serde, config, filter=filter, before=before, limit=limit)
        return self._iter(op, "list")

    def put(
        self,
        config: dict[str, Any],
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> dict[str, Any]:
        op = ops.put(self.dialect, self.serde, config, checkpoint, metadata, new_versions)
        return self._call(op, WRITE, "put")

    def put_batch(self, calls: Sequence[tuple[Any, ...]]) -> None:
        """Store queued put/put_writes calls in one transaction (one commit)."""
        self._call(ops.put_batch(self.dialect, self.serde, calls), WRITE, "put_batch")

    def put_writes(
        self,
        config: dict[str, Any],
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        op = ops.put_writes(self.dialect, self.serde, config, writes, task_id, task_path)
        self._call(op, WRITE, "put_writes")

    def delete_thread(self, thread_id: str) -> None:
        self._call(ops.delete_thread(self.dialect, thread_id), WRITE, "delete_thread")

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._call(ops.delete_for_runs(self.dialect, run_ids), WRITE, "delete_for_runs")

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._call(ops.copy_thread(self.dialect, source_thread_id, target_thread_id, self.serde), WRITE, "copy_thread")

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: PruneStrategy = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        self._call(ops.prune(self.dialect, thread_ids, strategy, keep_last), WRITE, "prune")

    # --- leases (one writer per thread) ------------------------------------------------------

    def acquire_lease(self, thread_id: str, holder: str, ttl: float) -> Lease:
        """Take the thread's lease: a new fencing token, or ThreadBusyError."""
        return self._call(leases.acquire(self.dialect, thread_id, holder, ttl), WRITE, "acquire_lease")

    def renew_lease(self, lease: Lease) -> Lease:
        """Extend the lease by its ttl; LeaseLostError when a newer run took it over."""
        return self._call(leases.fence(self.dialect, lease), WRITE, "renew_lease")

    def release_lease(self, lease: Lease) -> None:
        """Free the lease now (its token stays; a stale one changes nothing)."""
        self._call(leases.release(self.dialect, lease), WRITE, "release_lease")

    # --- async face -------------------------------------------------------------------------

    async def aget_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        return await self._acall(ops.get_tuple(self.dialect, self.serde, config), READ)

    def alist(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        op = ops.list_checkpoints(self.dialect, self.serde, config, filter=filter, before=before, limit=limit)
        return self._aiter(op)

    async def aput(
        self,
        config: dict[str, Any],
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> dict[str, Any]:
        op = ops.put(self.dialect, self.serde, config, checkpoint, metadata, new_versions)
        return await self._acall(op, WRITE)

    async def aput_batch(self, calls: Sequence[tuple[Any, ...]]) -> None:
        await self._acall(ops.put_batch(self.dialect, self.serde, calls), WRITE)

    async def aput_writes(
        self,
        config: dict[str, Any],
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._acall(ops.put_writes(self.dialect, self.serde, config, writes, task_id, task_path), WRITE)

    async def aacquire_lease(self, thread_id: str, holder: str, ttl: float) -> Lease:
        return await self._acall(leases.acquire(self.dialect, thread_id, holder, ttl), WRITE)

    async def arenew_lease(self, lease: Lease) -> Lease:
        return await self._acall(leases.fence(self.dialect, lease), WRITE)

    async def arelease_lease(self, lease: Lease) -> None:
        await self._acall(leases.release(self.dialect, lease), WRITE)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._acall(ops.delete_thread(self.dialect, thread_id), WRITE)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._acall(ops.delete_for_runs(self.dialect, run_ids), WRITE)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._acall(ops.copy_thread(self.dialect, source_thread_id, target_thread_id, self.serde), WRITE)

    async def aprune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: PruneStrategy = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        await self._acall(ops.prune(self.dialect, thread_ids, strategy, keep_last), WRITE)


_BATCH = ops.LIST_PAGE


def take(it: Iterator[Any], n: int) -> list[Any]:
    """Up to ``n`` items from ``it``."""
    out = []
    for item in it:
        out.append(item)
        if len(out) >= n:
            break
    return out


class ThreadedAsyncFace:
    """Async drivers for a blocking client: each operation runs in one worker-thread hop;
    a listing hops once per page of results."""

    async def _arun(self, op: Op[Any], mode: str) -> Any:
        return await asyncio.to_thread(self._run, op, mode, "a" + mode)  # type: ignore[attr-defined]

    async def _astream(self, op: Op[Any]) -> AsyncIterator[Any]:
        it = self._stream(op, "alist")  # type: ignore[attr-defined]
        try:
            while True:
                batch = await asyncio.to_thread(take, it, _BATCH)
                for item in batch:
                    yield item
                if len(batch) < _BATCH:
                    return
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                await asyncio.to_thread(close)


class BridgedSyncFace(_bridge.LoopBound):
    """Sync drivers for an async client: wait on the client's loop from another thread,
    refusing with SyncOnEventLoopError on the loop's own thread."""

    async def setup(self) -> None:
        """Create or migrate the schema: ``await saver.setup()``, as with LangGraph's async
        savers (``asetup()`` is the same coroutine)."""
        await self.asetup()  # type: ignore[attr-defined]

    def _run(self, op: Op[Any], mode: str, what: str) -> Any:
        return _bridge.wait(self._loop_for(what), self._arun(op, mode), what)  # type: ignore[attr-defined]

    def _stream(self, op: Op[Any], what: str) -> Iterator[Any]:
        return _bridge.iterate(self._loop_for(what), self._astream(op), what)  # type: ignore[attr-defined]


__all__ = ["BridgedSyncFace", "SqlSaver", "ThreadedAsyncFace", "take"]
