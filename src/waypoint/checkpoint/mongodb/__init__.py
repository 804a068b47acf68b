"""MongoDB checkpoint savers: ``MongoDBSaver`` (sync, ``pymongo.MongoClient``) here and
``AsyncMongoDBSaver`` (pymongo's native ``AsyncMongoClient``) in ``.aio``.

Both drive the same operations (``_core``, ``_maintenance``); see docs/backends/mongodb.md for
the document layout, indexes and transaction behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pymongo import MongoClient

from waypoint._ops import Op, run, stream
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
from waypoint.checkpoint.mongodb._exec import SyncExecutor
from waypoint.checkpoint.mongodb._threaded import ThreadedAsyncFace
from waypoint.checkpoint.serde.base import SerializerProtocol

DEFAULT_DB_NAME = "checkpointing_db"


class MongoDBSaver(ThreadedAsyncFace, BaseCheckpointSaver):
    """Checkpoints in MongoDB through a sync ``MongoClient``; async methods run in a thread.

    Call ``setup()`` once (``from_conn_string`` does) to create the indexes. ``transactions``
    forces multi-document transactions on or off; by default they are used when the server is
    a replica set or mongos.
    """

    def __init__(
        self,
        client: MongoClient,
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

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str, db_name: str = DEFAULT_DB_NAME, **kwargs: Any) -> Iterator["MongoDBSaver"]:
        """A ready saver (indexes created) on a new client, closed on exit."""
        client: MongoClient = MongoClient(conn_string)
        try:
            saver = cls(client, db_name, **kwargs)
            saver.setup()
            yield saver
        finally:
            client.close()

    def _run(self, op: Op[Any]) -> Any:
        with SyncExecutor(self.client, self.db) as execute:
            return run(op, execute)

    def _stream(self, op: Op[Any]) -> Iterator[Any]:
        with SyncExecutor(self.client, self.db) as execute:
            yield from stream(op, execute)

    def setup(self) -> None:
        """Create the collections' indexes (idempotent; recorded in a migrations collection)."""
        self._run(_core.setup(self._ctx))

    def get_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        return self._run(_core.get_tuple(self._ctx, config))

    def list(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return self._stream(_core.list_checkpoints(self._ctx, config, filter, before, limit))

    def put(
        self, config: dict[str, Any], checkpoint: Checkpoint, metadata: CheckpointMetadata, new_versions: ChannelVersions
    ) -> dict[str, Any]:
        return self._run(_write.put(self._ctx, config, checkpoint, metadata, new_versions))

    def put_writes(
        self, config: dict[str, Any], writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self._run(_write.put_writes(self._ctx, config, writes, task_id, task_path))

    def put_batch(self, calls: Sequence[tuple[Any, ...]]) -> None:
        self._run(_write.put_batch(self._ctx, calls))

    def acquire_lease(self, thread_id: str, holder: str, ttl: float) -> Lease:
        """Take the thread's lease: a new fencing token, or ThreadBusyError."""
        return self._run(_leases.acquire(self._ctx, thread_id, holder, ttl))

    def renew_lease(self, lease: Lease) -> Lease:
        """Extend the lease by its ttl; LeaseLostError when a newer run took it over."""
        return self._run(_leases.fence(self._ctx, lease))

    def release_lease(self, lease: Lease) -> None:
        """Free the lease now (its token stays; a stale one changes nothing)."""
        self._run(_leases.release(self._ctx, lease))

    def delete_thread(self, thread_id: str) -> None:
        self._run(_maintenance.delete_thread(self._ctx, thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._run(_maintenance.delete_for_runs(self._ctx, run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._run(_maintenance.copy_thread(self._ctx, source_thread_id, target_thread_id))

    def prune(
        self, thread_ids: Sequence[str], *, strategy: PruneStrategy = "keep_latest", keep_last: int | None = None
    ) -> None:
        self._run(_maintenance.prune(self._ctx, thread_ids, strategy, keep_last))


__all__ = ["MongoDBSaver"]

from waypoint.checkpoint.mongodb.aio import AsyncMongoDBSaver  # noqa: E402  (re-export)

__all__ += ["AsyncMongoDBSaver"]
