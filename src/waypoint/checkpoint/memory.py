"""InMemorySaver: the full saver contract in process memory, for tests and notebooks.

Values are serialized on the way in (so later mutation of live state never rewrites history);
append-style channels keep the item-log model of ``waypoint.checkpoint.log`` with one shared
Python list of serialized items per lineage, so a long conversation costs O(turns).

Checkpoint rows are packed ``marshal`` blobs and lineages keep a decode cache (see
``waypoint.checkpoint._memory``), so the saver holds no more than LangGraph's for the same
history and reads rebuild fresh objects with a few C calls per item. Nothing decoded is ever
shared between two reads, or between a read and the store: like LangGraph's saver, every read
returns new lists, dicts and message objects, and mutating them cannot change history.
"""

from __future__ import annotations


import threading
import time
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from waypoint._process import renew_lock_after_fork
from waypoint.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PruneStrategy,
    get_checkpoint_id,
    list_scope,
    get_checkpoint_ns,
    get_thread_id,
    make_config,
    metadata_matches,
    prune_keep_count,
    writes_index,
    WRITES_IDX_MAP,
)
from waypoint.checkpoint.base.lease import Lease, busy, get_lease, lost
from waypoint.checkpoint._memory import MemLineage, Typed, pack_row, row_metadata, row_versions, unpack_row
from waypoint.checkpoint.log import LOG_TYPE, Lineage, LogRef, levels, live_lineages, plan_write
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.errors import CorruptCheckpointError, read_error

EMPTY = ("empty", b"")


class SyncSaverAsyncFace:
    """The async face of a saver whose sync methods never block on I/O: call them directly."""

    async def aget_tuple(self, config):  # type: ignore[no-untyped-def]
        return self.get_tuple(config)  # type: ignore[attr-defined]

    async def alist(self, config, *, filter=None, before=None, limit=None) -> AsyncIterator[CheckpointTuple]:  # type: ignore[no-untyped-def]
        for item in self.list(config, filter=filter, before=before, limit=limit):  # type: ignore[attr-defined]
            yield item

    async def aput(self, config, checkpoint, metadata, new_versions):  # type: ignore[no-untyped-def]
        return self.put(config, checkpoint, metadata, new_versions)  # type: ignore[attr-defined]

    async def aput_writes(self, config, writes, task_id, task_path=""):  # type: ignore[no-untyped-def]
        return self.put_writes(config, writes, task_id, task_path)  # type: ignore[attr-defined]

    async def adelete_thread(self, thread_id):  # type: ignore[no-untyped-def]
        return self.delete_thread(thread_id)  # type: ignore[attr-defined]

    async def adelete_for_runs(self, run_ids):  # type: ignore[no-untyped-def]
        return self.delete_for_runs(run_ids)  # type: ignore[attr-defined]

    async def acopy_thread(self, source_thread_id, target_thread_id):  # type: ignore[no-untyped-def]
        return self.copy_thread(source_thread_id, target_thread_id)  # type: ignore[attr-defined]

    async def aprune(self, thread_ids, *, strategy="keep_latest", keep_last=None):  # type: ignore[no-untyped-def]
        return self.prune(thread_ids, strategy=strategy, keep_last=keep_last)  # type: ignore[attr-defined]

    async def aput_batch(self, calls):  # type: ignore[no-untyped-def]
        return self.put_batch(calls)  # type: ignore[attr-defined]

    async def aacquire_lease(self, thread_id: str, holder: str, ttl: float) -> Lease:
        return self.acquire_lease(thread_id, holder, ttl)  # type: ignore[attr-defined]

    async def arenew_lease(self, lease: Lease) -> Lease:
        return self.renew_lease(lease)  # type: ignore[attr-defined]

    async def arelease_lease(self, lease: Lease) -> None:
        return self.release_lease(lease)  # type: ignore[attr-defined]


class InMemorySaver(SyncSaverAsyncFace, BaseCheckpointSaver):
    """Checkpoints in a dict; everything is lost when the process exits."""

    def __init__(self, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self._lock = threading.RLock()
        renew_lock_after_fork(self)
        # thread -> ns -> sorted checkpoint ids; (thread, ns, id) -> (checkpoint, metadata, parent)
        self._ids: dict[str, dict[str, list[str]]] = defaultdict(dict)
        # (thread, ns, id) -> (packed row and metadata, see _memory.pack_row; parent id)
        self._rows: dict[tuple[str, str, str], tuple[Any, str | None]] = {}
        # (checkpoint id, thread, ns) of every row, sorted: list(None) walks it newest first
        # (rows deleted since are skipped, and compacted away once they are half of it)
        self._recent: list[tuple[str, str, str]] = []
        self._blobs: dict[tuple[str, str, str, str], Typed | LogRef] = {}
        self._lineages: dict[tuple[str, str, str], MemLineage] = {}
        # (thread, ns, checkpoint id) -> (task_id, idx) -> (channel, typed value, task_path)
        self._writes: dict[tuple[str, str, str], dict[tuple[str, int], tuple[str, Typed, str]]] = {}
        # thread -> [token, holder, expires_at (time.time())]; tokens only grow (see base.lease)
        self._leases: dict[str, list[Any]] = {}

    def __enter__(self) -> "InMemorySaver":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    async def __aenter__(self) -> "InMemorySaver":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    # --- write ------------------------------------------------------------------------------

    def put(
        self,
        config: dict[str, Any],
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> dict[str, Any]:
        thread_id = get_thread_id(config)
        ns = get_checkpoint_ns(config)
        parent_id = get_checkpoint_id(config)
        values = checkpoint.get("channel_values", {})
        logs = checkpoint.get("channel_logs") or {}
        packed = pack_row(checkpoint, metadata)
        lease = get_lease(config)
        with self._lock:
            if lease is not None:
                self._fence(lease)
            for channel, version in new_versions.items():
                key = (thread_id, ns, channel, str(version))
                if channel not in values:
                    self._blobs[key] = EMPTY
                elif channel in logs and isinstance(values[channel], list):
                    self._blobs[key] = self._write_log(thread_id, ns, channel, values[channel], logs[channel])
                else:
                    self._blobs[key] = self.serde.dumps_typed(values[channel])
            if (thread_id, ns, checkpoint["id"]) not in self._rows:
                self._index_recent(checkpoint["id"], thread_id, ns)
            self._rows[(thread_id, ns, checkpoint["id"])] = (packed, parent_id)
            ids = self._ids[thread_id].setdefault(ns, [])
            if not ids or ids[-1] < checkpoint["id"]:
                ids.append(checkpoint["id"])
            elif checkpoint["id"] not in ids:
                insort(ids, checkpoint["id"])
        return make_config(thread_id, ns, checkpoint["id"])

    def _index_recent(self, checkpoint_id: str, thread_id: str, ns: str) -> None:
        self._compact_recent()
        key = (checkpoint_id, thread_id, ns)
        if not self._recent or self._recent[-1] < key:
            self._recent.append(key)  # ids grow with time: almost always the newest
        else:
            insort(self._recent, key)

    def _newest_first(self, below: str | None = None, chunk: int = 64) -> Iterator[tuple[str, str, str]]:
        """The recency index newest first (ids below ``below``), a chunk at a time: each chunk is
        found again by bisection under the lock, so puts and deletes in between neither repeat
        nor skip keys."""
        last: tuple[str, ...] | None = (below,) if below is not None else None
        while True:
            with self._lock:
                end = len(self._recent) if last is None else bisect_left(self._recent, last)
                part = self._recent[max(0, end - chunk):end]
            if not part:
                return
            for key in reversed(part):
                if key != last:
                    yield key
                last = key  # type: ignore[assignment]
            chunk = min(chunk * 2, 4096)

    def _compact_recent(self) -> None:
        """Drop the entries of deleted rows once they are half of the index (amortized O(1))."""
        if len(self._recent) > 2 * len(self._rows) + 64:
            self._recent = sorted((cid, t, ns) for t, ns, cid in self._rows)

    def _write_log(self, thread_id: str, ns: str, channel: str, value: list[Any], hint: Any) -> LogRef:
        dumps = self.serde.dumps_typed
        base_ref = base = None
        if hint.base_version is not None:
            stored = self._blobs.get((thread_id, ns, channel, str(hint.base_version)))
            if isinstance(stored, LogRef):
                entry = self._lineages.get((thread_id, ns, stored.lineage))
                if entry is not None:
                    base_ref, base = stored, entry.row
        first, tail = 0, None
        if base_ref is not None and base is not None and hint.prefix_len < min(base_ref.length, len(value)):
            # The channel could not tell how much is unchanged (a replace by id, a node that
            # returned the whole list): items stored byte for byte as before are shared anyway.
            # Only items from the hinted prefix on are serialized, as a new lineage needs them.
            first = max(0, hint.prefix_len)
            tail = [dumps(v) for v in value[first:]]
            hint = hint._replace(prefix_len=self._shared_prefix(thread_id, ns, base_ref, base, tail, first))
        plan = plan_write(value, hint, base_ref, base, layout=None)

        def serialized(lo: int, hi: int) -> list[Typed]:
            return tail[lo - first : hi - first] if tail is not None and lo >= first else [dumps(v) for v in value[lo:hi]]

        if plan.extend is not None:
            lid, old, new = plan.extend
            entry = self._lineages[(thread_id, ns, lid)]
            entry.items.extend(serialized(old, new))
            entry.row = Lineage(entry.row.chain, new)
        elif plan.new_lineage is not None:
            row = plan.new_lineage
            self._lineages[(thread_id, ns, row.id)] = MemLineage(row, serialized(row.start, len(value)))
        return plan.ref

    def _shared_prefix(self, thread_id: str, ns: str, ref: LogRef, row: Lineage, tail: list[Typed], first: int) -> int:
        """How many leading items of a value whose items from ``first`` on serialize to
        ``tail`` are stored identically in the version ``ref`` (at least ``first``)."""
        k, end = 0, first + len(tail)
        for lid, own_len in levels(ref, row):
            items = self._lineages[(thread_id, ns, lid)].items
            if k + own_len <= first:
                k += own_len
                continue
            for i in range(max(0, first - k), own_len):
                if k + i >= end or items[i] != tail[k + i - first]:
                    return k + i
            k += own_len
        return min(k, end)

    def put_writes(
        self,
        config: dict[str, Any],
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        thread_id = get_thread_id(config)
        ns = get_checkpoint_ns(config)
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id is None:
            raise ValueError("put_writes needs config['configurable']['checkpoint_id']")
        lease = get_lease(config)
        with self._lock:
            if lease is not None:
                self._fence(lease)
            bucket = self._writes.setdefault((thread_id, ns, checkpoint_id), {})
            for idx, (channel, value) in enumerate(writes):
                key = (task_id, writes_index(channel, idx))
                if channel not in WRITES_IDX_MAP and key in bucket:
                    continue
                bucket[key] = (channel, self.serde.dumps_typed(value), task_path)

    def put_batch(self, calls: Sequence[tuple[Any, ...]]) -> None:
        """Apply queued calls under one hold of the lock: no lease takeover in between."""
        with self._lock:
            super().put_batch(calls)

    # --- leases (one writer per thread; the clock is this process's) --------------------------

    def acquire_lease(self, thread_id: str, holder: str, ttl: float) -> Lease:
        thread_id = str(thread_id)
        with self._lock:
            now = time.time()
            row = self._leases.get(thread_id)
            if row is not None and row[2] > now and row[1] != holder:
                raise busy(thread_id, row[1], row[2], now)
            token = max(row[0] + 1 if row is not None else 0, time.time_ns() // 1000)
            self._leases[thread_id] = [token, holder, now + ttl]
            return Lease(thread_id, token, holder, float(ttl), now + ttl)

    def renew_lease(self, lease: Lease) -> Lease:
        with self._lock:
            return lease._replace(expires_at=self._fence(lease))

    def release_lease(self, lease: Lease) -> None:
        with self._lock:
            row = self._leases.get(lease.thread_id)
            if row is not None and row[0] == lease.token:
                row[2] = 0.0

    def _fence(self, lease: Lease) -> float:
        """Refuse a stale token, else renew the lease (the caller holds the lock)."""
        row = self._leases.get(lease.thread_id)
        if row is None or row[0] != lease.token:
            raise lost(lease, *(row[:2] if row is not None else ()))
        row[2] = time.time() + lease.ttl
        return row[2]

    # --- read -------------------------------------------------------------------------------

    def get_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        thread_id = get_thread_id(config)
        ns = get_checkpoint_ns(config)
        checkpoint_id = get_checkpoint_id(config)
        with self._lock:
            if checkpoint_id is None:
                ids = self._ids.get(thread_id, {}).get(ns)
                if not ids:
                    return None
                checkpoint_id = ids[-1]
            elif (thread_id, ns, checkpoint_id) not in self._rows:
                return None
            return self._tuple(thread_id, ns, checkpoint_id)

    def list(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        thread_filter, ns_filter, id_filter, limit = list_scope(config, filter, limit)
        before_id = get_checkpoint_id(before) if before else None
        with self._lock:
            if thread_filter is None:  # newest first across threads: O(limit) rows decoded
                self._compact_recent()
                keys: Iterator[tuple[str, str, str]] = (
                    k for k in self._newest_first(before_id) if ns_filter is None or k[2] == ns_filter
                )
            else:
                keys = ((cid, str(thread_filter), ns) for ns, ids in self._ids.get(str(thread_filter), {}).items()
                        if ns_filter is None or ns == ns_filter for cid in ids)
                keys = iter(sorted(keys, reverse=True))
        count = 0
        for cid, t, ns in keys:
            if limit is not None and count >= limit:
                return
            if id_filter is not None and cid != id_filter:
                continue
            if before_id is not None and cid >= before_id:
                continue
            with self._lock:
                stored = self._rows.get((t, ns, cid))
                if stored is None or (filter and not metadata_matches(row_metadata(stored[0]), filter)):
                    continue
                result = self._tuple(t, ns, cid)
            count += 1
            yield result

    def _tuple(self, thread_id: str, ns: str, checkpoint_id: str) -> CheckpointTuple:
        packed, parent_id = self._rows[(thread_id, ns, checkpoint_id)]
        checkpoint, metadata = unpack_row(packed)
        values = checkpoint["channel_values"]
        for channel, version in checkpoint["channel_versions"].items():
            blob = self._blobs.get((thread_id, ns, channel, str(version)))
            if blob is None:
                raise CorruptCheckpointError(
                    f"blob for version {version!r} is missing",
                    thread_id=thread_id, checkpoint_ns=ns, checkpoint_id=checkpoint_id, channel=channel,
                )
            if blob is EMPTY or blob == EMPTY:
                continue
            try:
                values[channel] = self._read_log(thread_id, ns, blob) if isinstance(blob, LogRef) else self.serde.loads_typed(blob)
            except CorruptCheckpointError:
                raise
            except Exception as exc:
                raise read_error(
                    f"cannot decode stored value: {exc}", exc,
                    thread_id=thread_id, checkpoint_ns=ns, checkpoint_id=checkpoint_id, channel=channel,
                ) from exc
        bucket = self._writes.get((thread_id, ns, checkpoint_id), {})
        pending = []
        for (task_id, _idx), (channel, typed, _path) in sorted(bucket.items(), key=lambda kv: (kv[1][2], kv[0][0], kv[0][1])):
            try:
                pending.append((task_id, channel, self.serde.loads_typed(typed)))
            except Exception as exc:
                raise read_error(
                    f"cannot decode pending write of task {task_id!r}: {exc}", exc,
                    thread_id=thread_id, checkpoint_ns=ns, checkpoint_id=checkpoint_id, channel=channel,
                ) from exc
        return CheckpointTuple(
            config=make_config(thread_id, ns, checkpoint_id),
            checkpoint=checkpoint,
            metadata=metadata,
            parent_config=make_config(thread_id, ns, parent_id) if parent_id else None,
            pending_writes=pending,
        )

    def _read_log(self, thread_id: str, ns: str, ref: LogRef) -> list[Any]:
        entry = self._lineages.get((thread_id, ns, ref.lineage))
        if entry is None:
            raise KeyError(f"lineage {ref.lineage!r} is missing")
        loads = self.serde.loads_typed
        out: list[Any] = []
        for lid, own_len in levels(ref, entry.row):
            level = self._lineages[(thread_id, ns, lid)]
            if len(level.items) < own_len:
                raise ValueError(f"lineage {lid!r} holds {len(level.items)} items, {own_len} needed")
            level.decoded.read(level.items, own_len, loads, out)
        return out

    # --- maintenance ------------------------------------------------------------------------

    def delete_thread(self, thread_id: str) -> None:
        thread_id = str(thread_id)
        with self._lock:
            self._ids.pop(thread_id, None)
            lease = self._leases.get(thread_id)
            if lease is not None and lease[2] <= time.time():  # a running run keeps its lease
                del self._leases[thread_id]
            for store in (self._rows, self._blobs, self._lineages, self._writes):
                for key in [k for k in store if k[0] == thread_id]:
                    del store[key]

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        wanted = {str(r) for r in run_ids}
        with self._lock:
            doomed = [k for k, (packed, _) in self._rows.items() if str(row_metadata(packed).get("run_id")) in wanted]
            for key in doomed:
                self._drop_checkpoint(key)

    def _drop_checkpoint(self, key: tuple[str, str, str]) -> None:
        thread_id, ns, cid = key
        self._rows.pop(key, None)
        self._writes.pop(key, None)
        ids = self._ids.get(thread_id, {}).get(ns)
        if ids is not None and cid in ids:
            ids.remove(cid)
            if not ids:
                del self._ids[thread_id][ns]

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        src, dst = str(source_thread_id), str(target_thread_id)
        with self._lock:
            for ns, ids in self._ids.get(src, {}).items():
                merged = sorted(set(self._ids[dst].get(ns, [])) | set(ids))
                self._ids[dst][ns] = merged
            for (t, ns, cid), stored in list(self._rows.items()):
                if t == src:  # a packed row is immutable: the copy can share it
                    if (dst, ns, cid) not in self._rows:
                        self._index_recent(cid, dst, ns)
                    self._rows[(dst, ns, cid)] = stored
            for (t, ns, ch, ver), blob in list(self._blobs.items()):
                if t == src:
                    self._blobs[(dst, ns, ch, ver)] = blob
            for (t, ns, lid), entry in list(self._lineages.items()):
                if t == src:
                    self._lineages[(dst, ns, lid)] = MemLineage(entry.row, list(entry.items), entry.decoded.copy())
            for (t, ns, cid), bucket in list(self._writes.items()):
                if t == src:
                    self._writes[(dst, ns, cid)] = dict(bucket)

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: PruneStrategy = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        keep = prune_keep_count(strategy, keep_last)
        with self._lock:
            for thread_id in (str(t) for t in thread_ids):
                for ns, ids in list(self._ids.get(thread_id, {}).items()):
                    for cid in ids[: max(0, len(ids) - keep)]:
                        self._drop_checkpoint((thread_id, ns, cid))
                self._collect_garbage(thread_id)

    def _collect_garbage(self, thread_id: str) -> None:
        """Drop blobs and lineages no kept checkpoint of the thread refers to."""
        needed: set[tuple[str, str, str, str]] = set()
        for (t, ns, _cid), (packed, _) in self._rows.items():
            if t == thread_id:
                needed.update((t, ns, ch, str(v)) for ch, v in row_versions(packed).items())
        for key in [k for k in self._blobs if k[0] == thread_id and k not in needed]:
            del self._blobs[key]
        kept_rows = [
            (ns, self._lineages[(thread_id, ns, blob.lineage)].row)
            for (t, ns, _, _), blob in self._blobs.items()
            if t == thread_id and isinstance(blob, LogRef)
        ]
        live = {(ns, lid) for ns, row in kept_rows for lid in live_lineages([row])}
        for key in [k for k in self._lineages if k[0] == thread_id and (k[1], k[2]) not in live]:
            del self._lineages[key]


MemorySaver = InMemorySaver

__all__ = ["InMemorySaver", "MemorySaver", "SyncSaverAsyncFace"]
