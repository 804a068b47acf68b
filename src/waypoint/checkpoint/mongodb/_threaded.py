"""The async face of a sync saver whose methods block on I/O: each call runs in a worker
thread (``asyncio.to_thread``), a listing one item per hop, so the event loop never blocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from waypoint.checkpoint.base.lease import Lease
from waypoint.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointTuple, PruneStrategy

_DONE = object()


class ThreadedAsyncFace:
    """Mixin: ``aget_tuple`` & co. call the sync methods of the class in a worker thread."""

    async def aget_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)  # type: ignore[attr-defined]

    async def alist(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        it = self.list(config, filter=filter, before=before, limit=limit)  # type: ignore[attr-defined]
        try:
            while (item := await asyncio.to_thread(next, it, _DONE)) is not _DONE:
                yield item
        finally:
            await asyncio.to_thread(it.close)

    async def aput(
        self, config: dict[str, Any], checkpoint: Checkpoint, metadata: CheckpointMetadata, new_versions: ChannelVersions
    ) -> dict[str, Any]:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)  # type: ignore[attr-defined]

    async def aput_writes(
        self, config: dict[str, Any], writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)  # type: ignore[attr-defined]

    async def aput_batch(self, calls: Sequence[tuple[Any, ...]]) -> None:
        await asyncio.to_thread(self.put_batch, calls)  # type: ignore[attr-defined]

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)  # type: ignore[attr-defined]

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)  # type: ignore[attr-defined]

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)  # type: ignore[attr-defined]

    async def aprune(
        self, thread_ids: Sequence[str], *, strategy: PruneStrategy = "keep_latest", keep_last: int | None = None
    ) -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy, keep_last=keep_last)  # type: ignore[attr-defined]

    async def aacquire_lease(self, thread_id: str, holder: str, ttl: float) -> Lease:
        return await asyncio.to_thread(self.acquire_lease, thread_id, holder, ttl)  # type: ignore[attr-defined]

    async def arenew_lease(self, lease: Lease) -> Lease:
        return await asyncio.to_thread(self.renew_lease, lease)  # type: ignore[attr-defined]

    async def arelease_lease(self, lease: Lease) -> None:
        await asyncio.to_thread(self.release_lease, lease)  # type: ignore[attr-defined]

    async def asetup(self) -> None:
        await asyncio.to_thread(self.setup)  # type: ignore[attr-defined]
