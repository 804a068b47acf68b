"""InMemorySaver: the full saver contract in process memory, for tests and notebooks.

Values are serialized on the way in (so later mutation of live state never rewrites history);
append-style channels keep the item-log model of ``waypoint.checkpoint.log`` with one shared
Python list of serialized items per lineage, so a long conversation costs O(turns).

Reading a log does not run the serializer on every item every time: each lineage keeps a
decode cache (``_Decoded``) holding every item's decoded *state* as ``marshal`` bytes, so a read
rebuilds fresh objects with a few C calls per item. Nothing decoded is ever shared between two
reads, or between a read and the store: like LangGraph's saver, every read returns new lists,
dicts and message objects, and mutating them cannot change history.
"""

from __future__ import annotations

import marshal
import threading
import time
from bisect import insort
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
    copy_checkpoint,
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
from waypoint.checkpoint._fresh import MARSHAL_VERSION as _MARSHAL_VERSION
from waypoint.checkpoint._fresh import RAW as _RAW
from waypoint.checkpoint._fresh import rebuild, state_of
from waypoint.checkpoint.log import LOG_TYPE, Lineage, LogRef, levels, live_lineages, plan_write
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.errors import CorruptCheckpointError, read_error

EMPTY = ("empty", b"")
Typed = tuple[str, bytes]


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


class _Lineage:
    __slots__ = ("row", "items", "decoded")

    def __init__(self, row: Lineage, items: list[Typed], decoded: "_Decoded | None" = None) -> None:
        self.row = row
        self.items = items  # serialized items, append-only: items[i] never changes once written
        self.decoded = decoded if decoded is not None else _Decoded()


# --- decode cache: see ``waypoint.checkpoint._fresh`` for kinds and states.
_CHUNK = 64  # states per marshal blob once a chunk is full


class _Decoded:
    """The decode cache of one lineage: kinds and states of its first ``len(kinds)`` items.
    States are marshal bytes: full chunks of ``_CHUNK`` items, then one blob per item."""

    __slots__ = ("kinds", "chunks", "tail")

    def __init__(self) -> None:
        self.kinds: list[Any] = []
        self.chunks: list[bytes] = []
        self.tail: list[bytes] = []

    def copy(self) -> "_Decoded":
        other = _Decoded()
        other.kinds, other.chunks, other.tail = list(self.kinds), list(self.chunks), list(self.tail)
        return other

    def fill(self, items: list[Typed], upto: int, loads: Any) -> None:
        """Decode ``items[len(kinds):upto]`` once and remember their states."""
        dumps, version = marshal.dumps, _MARSHAL_VERSION
        for i in range(len(self.kinds), upto):
            kind, state = state_of(loads(items[i]), i)
            try:
                blob = dumps(state, version)
            except ValueError:  # e.g. nested deeper than marshal allows
                kind, blob = _RAW, dumps([i, None, None], version)
            self.kinds.append(kind)
            self.tail.append(blob)
            if len(self.tail) == _CHUNK:
                flat: list[Any] = []
                for b in self.tail:
                    flat.extend(marshal.loads(b))
                self.chunks.append(dumps(flat, version))
                self.tail = []

    def read(self, items: list[Typed], upto: int, loads: Any, out: list[Any]) -> None:
        """Append fresh copies of the first ``upto`` items to ``out``."""
        if len(self.kinds) < upto:
            self.fill(items, upto, loads)
        full, rest = divmod(upto, _CHUNK)
        states: list[Any] = []
        for blob in self.chunks[:full]:
            states.extend(marshal.loads(blob))
        if rest:
            if full < len(self.chunks):
                states.extend(marshal.loads(self.chunks[full])[: 3 * rest])
            else:
                for blob in self.tail[:rest]:
                    states.extend(marshal.loads(blob))
        rebuild(self.kinds, states, out, lambda index: loads(items[index]))


class InMemorySaver(SyncSaverAsyncFace, BaseCheckpointSaver):
    """Checkpoints in a dict; everything is lost when the process exits."""

    def __init__(self, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self._lock = threading.RLock()
        renew_lock_after_fork(self)
        # thread -> ns -> sorted checkpoint ids; (thread, ns, id) -> (checkpoint, metadata, parent)
        self._ids: dict[str, dict[str, list[str]]] = defaultdict(dict)
        self._rows: dict[tuple[str, str, str], tuple[Checkpoint, CheckpointMetadata, str | None]] = {}
        self._blobs: dict[tuple[str, str, str, str], Typed | LogRef] = {}
        self._lineages: dict[tuple[str, str, str], _Lineage] = {}
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
        row = copy_checkpoint(checkpoint)
        row["channel_values"] = {}
        row.pop("channel_logs", None)
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
            self._rows[(thread_id, ns, checkpoint["id"])] = (row, dict(metadata), parent_id)
            ids = self._ids[thread_id].setdefault(ns, [])
            if not ids or ids[-1] < checkpoint["id"]:
                ids.append(checkpoint["id"])
            elif checkpoint["id"] not in ids:
                insort(ids, checkpoint["id"])
        return make_config(thread_id, ns, checkpoint["id"])

    def _write_log(self, thread_id: str, ns: str, channel: str, value: list[Any], hint: Any) -> LogRef:
        base_ref = base = None
        if hint.base_version is not None:
            stored = self._blobs.get((thread_id, ns, channel, str(hint.base_version)))
            if isinstance(stored, LogRef):
                entry = self._lineages.get((thread_id, ns, stored.lineage))
                if entry is not None:
                    base_ref, base = stored, entry.row
        plan = plan_write(value, hint, base_ref, base, layout=None)
        dumps = self.serde.dumps_typed
        if plan.extend is not None:
            lid, old, new = plan.extend
            entry = self._lineages[(thread_id, ns, lid)]
            entry.items.extend(dumps(v) for v in value[old:new])
            entry.row = Lineage(entry.row.chain, new)
        elif plan.new_lineage is not None:
            row = plan.new_lineage
            self._lineages[(thread_id, ns, row.id)] = _Lineage(row, [dumps(v) for v in value[row.start :]])
        return plan.ref

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
            keys: list[tuple[str, str, str]] = []
            threads = [str(thread_filter)] if thread_filter is not None else list(self._ids)
            for t in threads:
                for ns, ids in self._ids.get(t, {}).items():
                    if ns_filter is not None and ns != ns_filter:
                        continue
                    keys.extend((t, ns, cid) for cid in ids)
        keys.sort(key=lambda k: k[2], reverse=True)
        count = 0
        for t, ns, cid in keys:
            if limit is not None and count >= limit:
                return
            if id_filter is not None and cid != id_filter:
                continue
            if before_id is not None and cid >= before_id:
                continue
            with self._lock:
                stored = self._rows.get((t, ns, cid))
                if stored is None or not metadata_matches(stored[1], filter):
                    continue
                result = self._tuple(t, ns, cid)
            count += 1
            yield result

    def _tuple(self, thread_id: str, ns: str, checkpoint_id: str) -> CheckpointTuple:
        row, metadata, parent_id = self._rows[(thread_id, ns, checkpoint_id)]
        checkpoint = copy_checkpoint(row)
        values = {}
        for channel, version in row["channel_versions"].items():
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
        checkpoint["channel_values"] = values
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
            metadata=dict(metadata),  # type: ignore[arg-type]
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
            doomed = [k for k, (_, md, _) in self._rows.items() if str(md.get("run_id")) in wanted]
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
            for (t, ns, cid), (row, md, parent) in list(self._rows.items()):
                if t == src:
                    self._rows[(dst, ns, cid)] = (copy_checkpoint(row), dict(md), parent)
            for (t, ns, ch, ver), blob in list(self._blobs.items()):
                if t == src:
                    self._blobs[(dst, ns, ch, ver)] = blob
            for (t, ns, lid), entry in list(self._lineages.items()):
                if t == src:
                    self._lineages[(dst, ns, lid)] = _Lineage(entry.row, list(entry.items), entry.decoded.copy())
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
        for (t, ns, _cid), (row, _, _) in self._rows.items():
            if t == thread_id:
                needed.update((t, ns, ch, str(v)) for ch, v in row["channel_versions"].items())
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
