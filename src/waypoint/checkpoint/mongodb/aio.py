"""``AsyncMongoDBSaver``: checkpoints in MongoDB through pymongo's native ``AsyncMongoClient``.

Its sync methods serve callers on other threads by waiting on the saver's event loop, and
refuse with ``SyncOnEventLoopError`` on that loop's own thread (where they would deadlock).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient

from waypoint._bridge import LoopBound, iterate, running_loop, wait
from waypoint._ops import Op, arun, astream
from waypoint.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PruneStrategy,
)
from waypoint.checkpoint.base.lease import Lease
from waypoint.checkpoint.mongodb import _core, _leases, _maintenance, _write
from waypoint.checkpoint.mongodb._docs import Names
from waypoint.checkpoint.mongodb._exec import AsyncExecutor
from waypoint.checkpoint.serde.base import SerializerProtocol

DEFAULT_DB_NAME = "checkpointing_db"


class AsyncMongoDBSaver(LoopBound, BaseCheckpointSaver):
    """Checkpoints in MongoDB through an ``AsyncMongoClient``, bound to one event loop.

    Call ``await setup()`` once (``from_conn_string`` does). ``transactions`` as for
    ``MongoDBSaver``.
    """

    def __init__(
        self,
        client: AsyncMongoClient,
        db_name: str = DEFAULT_DB_NAME,
        *,
        serde: SerializerProtocol | None = None,
        collection_prefix: str = "",
        transactions: bool | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.client = client
        self.db = client[db_name]
        self._ctx = _core.Ctx(self.serde, Names(collection_prefix), transactions)
        self.loop = running_loop()

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls, conn_string: str, db_name: str = DEFAULT_DB_NAME, **kwargs: Any
    ) -> AsyncIterator["AsyncMongoDBSaver"]:
        """A ready saver (indexes created) on a new client, closed on exit."""
        client: AsyncMongoClient = AsyncMongoClient(conn_string)
        try:
            saver = cls(client, db_name, **kwargs)
            await saver.setup()
            yield saver
        finally:
            await client.close()

    async def _run(self, op: Op[Any]) -> Any:
        self._bind_loop()
        async with AsyncExecutor(self.client, self.db) as execute:
            return await arun(op, execute)

    async def _stream(self, op: Op[Any]) -> AsyncIterator[Any]:
        self._bind_loop()
        async with AsyncExecutor(self.client, self.db) as execute:
            async for item in astream(op, execute):
                yield item

    # --- async face ------------------------------------------------------------------------

    async def setup(self) -> None:
        """Create the collections' indexes (idempotent; recorded in a migrations collection)."""
        await self._run(_core.setup(self._ctx))

    async def aget_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        return await self._run(_core.get_tuple(self._ctx, config))

    def alist(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        return self._stream(_core.list_checkpoints(self._ctx, config, filter, before, limit))

    async def aput(
        self, config: dict[str, Any], checkpoint: Checkpoint, metadata: CheckpointMetadata, new_versions: ChannelVersions
    ) -> dict[str, Any]:
        return await self._run(_write.put(self._ctx, config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self, config: dict[str, Any], writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await self._run(_write.put_writes(self._ctx, config, writes, task_id, task_path))

    async def aput_batch(self, calls: Sequence[tuple[Any, ...]]) -> None:
        await self._run(_write.put_batch(self._ctx, calls))

    async def aacquire_lease(self, thread_id: str, holder: str, ttl: float) -> Lease:
        return await self._run(_leases.acquire(self._ctx, thread_id, holder, ttl))

    async def arenew_lease(self, lease: Lease) -> Lease:
        return await self._run(_leases.fence(self._ctx, lease))

    async def arelease_lease(self, lease: Lease) -> None:
        await self._run(_leases.release(self._ctx, lease))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._run(_maintenance.delete_thread(self._ctx, thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._run(_maintenance.delete_for_runs(self._ctx, run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._run(_maintenance.copy_thread(self._ctx, source_thread_id, target_thread_id))

    async def aprune(
        self, thread_ids: Sequence[str], *, strategy: PruneStrategy = "keep_latest", keep_last: int | None = None
    ) -> None:
        await self._run(_maintenance.prune(self._ctx, thread_ids, strategy, keep_last))

    # --- sync face: wait on the saver's loop from another thread ----------------------------

    def get_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        return wait(self._loop_for("get_tuple"), self.aget_tuple(config), "get_tuple")

    def list(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return iterate(self._loop_for("list"), self.alist(config, filter=filter, before=before, limit=limit), "list")

    def put(
        self, config: dict[str, Any], checkpoint: Checkpoint, metadata: CheckpointMetadata, new_versions: ChannelVersions
    ) -> dict[str, Any]:
        return wait(self._loop_for("put"), self.aput(config, checkpoint, metadata, new_versions), "put")

    def put_writes(
        self, config: dict[str, Any], writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        wait(self._loop_for("put_writes"), self.aput_writes(config, writes, task_id, task_path), "put_writes")

    def put_batch(self, calls: Sequence[tuple[Any, ...]]) -> None:
        wait(self._loop_for("put_batch"), self.aput_batch(calls), "put_batch")

    def acquire_lease(self, thread_id: str, holder: str, ttl: float) -> Lease:
        return wait(self._loop_for("acquire_lease"), self.aacquire_lease(thread_id, holder, ttl), "acquire_lease")

    def renew_lease(self, lease: Lease) -> Lease:
        return wait(self._loop_for("renew_lease"), self.arenew_lease(lease), "renew_lease")

    def release_lease(self, lease: Lease) -> None:
        wait(self._loop_for("release_lease"), self.arelease_lease(lease), "release_lease")

    def delete_thread(self, thread_id: str) -> None:
        wait(self._loop_for("delete_thread"), self.adelete_thread(thread_id), "delete_thread")

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        wait(self._loop_for("delete_for_runs"), self.adelete_for_runs(run_ids), "delete_for_runs")

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        wait(self._loop_for("copy_thread"), self.acopy_thread(source_thread_id, target_thread_id), "copy_thread")

    def prune(
        self, thread_ids: Sequence[str], *, strategy: PruneStrategy = "keep_latest", keep_last: int | None = None
    ) -> None:
        wait(self._loop_for("prune"), self.aprune(thread_ids, strategy=strategy, keep_last=keep_last), "prune")


__all__ = ["AsyncMongoDBSaver"]
