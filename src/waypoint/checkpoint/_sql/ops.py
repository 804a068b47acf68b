"""One generator operation per public saver method, shared by SQLite and PostgreSQL.

Each operation yields ``Fetch`` / ``Execute`` / ``ExecuteMany`` requests (and ``Emit`` for
listings) and receives their results; it does no I/O. The driver decides the transaction:
``put``, ``put_writes``, ``delete_*``, ``copy_thread``, ``prune`` and ``setup`` run as one
write transaction each; ``get_tuple`` is one query; ``list`` fetches a page of checkpoints
(with their blobs, logs and writes) per query and emits them as it goes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from waypoint._ops import Emit, Op
from waypoint.checkpoint._sql import dialect as q
from waypoint.checkpoint._sql import leases
from waypoint.checkpoint._sql.codec import (
    decode_checkpoint_row,
    decode_each,
    decode_tuples,
    encode_checkpoint,
    encode_metadata,
    dumps_at,
    last_key,
    nul_mismatch,
)
from waypoint.checkpoint.serde.encrypted import binds_place
from waypoint.checkpoint._sql.dialect import Dialect, select_where
from waypoint.checkpoint._sql.put import put_one as _put
from waypoint.checkpoint._sql.requests import Execute, ExecuteMany, Fetch
from waypoint.checkpoint.base import (
    batch_call,
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    list_scope,
    get_checkpoint_ns,
    get_thread_id,
    make_config,
    prune_keep_count,
    writes_index,
)
from waypoint.checkpoint.base.lease import Lease, get_lease
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.errors import SetupError

LIST_PAGE = 50  # checkpoints fetched per listing query
SETUP_LOCK_KEY = 0x5741595054  # "WAYPT": the advisory lock PostgreSQL setup serializes on


def setup(d: Dialect) -> Op[None]:
    """Create or migrate the schema; safe to run concurrently and repeatedly."""
    if d.setup_lock is not None:
        yield Fetch(d.setup_lock, (SETUP_LOCK_KEY,))
    yield Execute(q.CREATE_MIGRATIONS)
    done = {row[0] for row in (yield Fetch(q.SELECT_MIGRATIONS))}
    known = len(d.migrations)
    if done and max(done) > known:
        raise SetupError(
            f"the database's checkpoint schema is at version {max(done)} but this waypoint only "
            f"knows versions up to {known}: upgrade waypoint to use this database"
        )
    for version, statements in enumerate(d.migrations, start=1):
        if version in done:
            continue
        for statement in statements:
            yield Execute(statement)
        yield Execute(d.q(q.INSERT_MIGRATION), (version,))


# --- reads -----------------------------------------------------------------------------------


def get_tuple(d: Dialect, serde: SerializerProtocol, config: Mapping[str, Any]) -> Op[CheckpointTuple | None]:
    """The checkpoint named by ``checkpoint_id`` (else the thread's latest), in one query."""
    where, params = select_where(
        d,
        thread_id=get_thread_id(config),
        checkpoint_ns=get_checkpoint_ns(config),
        checkpoint_id=get_checkpoint_id(config),
    )
    rows = yield Fetch(d.tuples_sql(where), [*params, 1])
    rows = yield from _large_blobs(d, rows)
    found = decode_tuples(rows, serde)
    return found[0] if found else None


def _large_blobs(d: Dialect, rows: Sequence[Any]) -> Op[Sequence[Any]]:
    """``rows`` with each blob the tuples query flagged as large (SQLite) read by its key."""
    flagged = [i for i, r in enumerate(rows) if r[0] == "b" and r[10]]
    if not flagged:
        return rows
    out = list(rows)
    for i in flagged:
        r = rows[i]
        found = yield Fetch(d.q(q.SELECT_BLOB), (r[1], r[2], r[4], r[5]))
        out[i] = (*r[:9], found[0][1] if found else None, None, *r[11:])
    return out


def list_checkpoints(
    d: Dialect,
    serde: SerializerProtocol,
    config: Mapping[str, Any] | None,
    *,
    filter: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
    limit: int | None = None,
    page_size: int = LIST_PAGE,
) -> Op[None]:
    """Emit matching checkpoints newest first, one keyset page per query."""
    thread_id, ns, checkpoint_id, limit = list_scope(config, filter, limit)
    base = dict(
        thread_id=thread_id,
        checkpoint_ns=ns,
        checkpoint_id=checkpoint_id,
        before_id=get_checkpoint_id(before) if before else None,
        filter=filter,
    )
    remaining = limit
    after: tuple[str, str, str] | None = None
    while remaining is None or remaining > 0:
        size = page_size if remaining is None else min(page_size, remaining)
        where, params = select_where(d, after=after, **base)  # type: ignore[arg-type]
        rows = yield Fetch(d.tuples_sql(where), [*params, size])
        rows = yield from _large_blobs(d, rows)
        emitted = 0
        for item in decode_each(rows, serde):  # a corrupt row raises when reached, named
            if filter and nul_mismatch(item.metadata, filter):
                continue
            emitted += 1
            yield Emit(item)
        count, oldest = last_key(rows)
        if count < size or oldest is None:
            return
        after = oldest
        if remaining is not None:
            remaining -= emitted


def list_thread_ids(
    d: Dialect,
    *,
    after: str | None = None,
    limit: int | None = None,
    contains: str | None = None,
    filter: Mapping[str, Any] | None = None,
) -> Op[list[str]]:
    """Thread ids with a checkpoint, sorted, decoding nothing (one index-ordered query): tools
    that walk thread by thread start here, so one corrupt row cannot hide the rest. ``after``
    and ``limit`` page by keyset; ``contains`` keeps ids holding that text, ``filter`` threads
    with a checkpoint whose metadata matches."""
    where, params = select_where(d, filter=filter)
    p = d.placeholder
    if after is not None:
        where += f" AND thread_id > {p}"
        params.append(after)
    if contains:
        where += f" AND thread_id LIKE {p} ESCAPE '!'"
        params.append("%" + contains.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%")
    sql = f"SELECT DISTINCT thread_id FROM waypoint_checkpoints WHERE {where} ORDER BY thread_id"
    if limit is not None:
        sql += f" LIMIT {p}"
        params.append(int(limit))
    rows = yield Fetch(sql, params)
    return [str(row[0]) for row in rows]


def list_headers(
    d: Dialect,
    serde: SerializerProtocol,
    thread_id: str,
    checkpoint_ns: str,
    *,
    before: str | None = None,
    limit: int = 200,
) -> Op[list[CheckpointTuple]]:
    """A thread's newest checkpoints without their values (two queries, no blob read): each
    tuple has empty ``channel_values`` and pending writes ``(task_id, channel, None)``. Tools
    drawing a long history use it; values come from ``get_tuple`` for the one opened."""
    where, params = select_where(d, thread_id=thread_id, checkpoint_ns=checkpoint_ns, before_id=before)
    p = d.placeholder
    rows = yield Fetch(
        "SELECT 'c', thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
        "CAST(channel_versions AS TEXT), CAST(metadata AS TEXT), NULL, type, checkpoint, metadata_type, "
        f"metadata_blob FROM waypoint_checkpoints WHERE {where} ORDER BY checkpoint_id DESC LIMIT {p}",
        [*params, int(limit)],
    )
    decoded = [decode_checkpoint_row(row, serde) for row in rows]
    writes: dict[str, list[Any]] = {}
    if decoded:
        found = yield Fetch(
            "SELECT checkpoint_id, task_id, channel FROM waypoint_writes WHERE thread_id = "
            f"{p} AND checkpoint_ns = {p} AND checkpoint_id >= {p} AND checkpoint_id <= {p} "
            "ORDER BY checkpoint_id, task_path, task_id, idx",
            [thread_id, checkpoint_ns, decoded[-1].checkpoint["id"], decoded[0].checkpoint["id"]],
        )
        for cid, task_id, channel in found:
            writes.setdefault(cid, []).append((task_id, channel, None))
    out = []
    for c in decoded:
        cid = c.checkpoint["id"]
        parent = make_config(thread_id, checkpoint_ns, c.parent_id) if c.parent_id else None
        out.append(CheckpointTuple(make_config(thread_id, checkpoint_ns, cid), c.checkpoint, c.metadata, parent, writes.get(cid, [])))
    return out


# --- writes ----------------------------------------------------------------------------------


def put(
    d: Dialect,
    serde: SerializerProtocol,
    config: Mapping[str, Any],
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    new_versions: ChannelVersions,
) -> Op[dict[str, Any]]:
    """Store the checkpoint row, the blobs of ``new_versions`` and any log chunks; a leased
    write (its config carries a Lease) is fenced in the same transaction."""
    out = yield from _put(d, serde, config, checkpoint, metadata, new_versions)
    yield from _fence(d, [config])
    return out


def _fence(d: Dialect, configs: Sequence[Mapping[str, Any]]) -> Op[None]:
    """Fence (and renew) every distinct lease the configs of one transaction carry, last: the
    lease row is locked only for the commit, never while the writes wait on other locks."""
    seen: set[Lease] = set()
    for config in configs:
        lease = get_lease(config)
        if lease is not None and lease not in seen:
            seen.add(lease)
            yield from leases.fence(d, lease)


def put_batch(d: Dialect, serde: SerializerProtocol, calls: Sequence[tuple[Any, ...]]) -> Op[None]:
    """Several ``put``/``put_writes`` calls as one operation: one transaction, one commit, one
    fence per lease."""
    configs = []
    written: dict[tuple[str, str, str], Any] = {}  # each put's row, for its child's put
    for name, args in map(batch_call, calls):
        if name == "put":
            yield from _put(d, serde, *args, written=written)
        else:
            yield from _put_writes(d, serde, *args)
        configs.append(args[0])
    yield from _fence(d, configs)


def put_writes(
    d: Dialect,
    serde: SerializerProtocol,
    config: Mapping[str, Any],
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str = "",
) -> Op[None]:
    """Store a task's writes (fenced when leased)."""
    yield from _put_writes(d, serde, config, writes, task_id, task_path)
    yield from _fence(d, [config])


def _put_writes(
    d: Dialect,
    serde: SerializerProtocol,
    config: Mapping[str, Any],
    writes: Sequence[tuple[str, Any]],
    task_id: str,
    task_path: str = "",
) -> Op[None]:
    """Store a task's writes; a special channel's write replaces the earlier one."""
    thread_id = get_thread_id(config)
    ns = get_checkpoint_ns(config)
    checkpoint_id = get_checkpoint_id(config)
    if checkpoint_id is None:
        raise ValueError("put_writes needs config['configurable']['checkpoint_id']")
    regular: list[tuple[Any, ...]] = []
    special: list[tuple[Any, ...]] = []
    bound = binds_place(serde)
    for idx, (channel, value) in enumerate(writes):
        at = writes_index(channel, idx)
        place = ("write", thread_id, ns, checkpoint_id, task_id, str(at)) if bound else None
        row = (thread_id, ns, checkpoint_id, task_id, at, channel, *dumps_at(serde, value, place), task_path)
        (special if channel in WRITES_IDX_MAP else regular).append(row)
    if regular:
        yield ExecuteMany(d.q(q.INSERT_WRITE), regular)
    if special:
        yield ExecuteMany(d.q(q.UPSERT_WRITE), special)


# --- maintenance -----------------------------------------------------------------------------


def delete_thread(d: Dialect, thread_id: str) -> Op[None]:
    for sql in q.DELETE_THREAD:
        yield Execute(d.q(sql), (str(thread_id),))
    yield Execute(d.lease_sql(q.DELETE_FREE_LEASE), (str(thread_id),))


def delete_for_runs(d: Dialect, run_ids: Sequence[str]) -> Op[None]:
    ids = [str(r) for r in run_ids]
    if not ids:
        return
    for sql in d.delete_runs:
        yield Execute(sql, (d.run_ids_param(ids),))


def copy_thread(
    d: Dialect, source_thread_id: str, target_thread_id: str, serde: SerializerProtocol | None = None
) -> Op[None]:
    """Copy every row of a thread in SQL; then, when ``serde`` seals values to their place,
    reseal the copied values for the target thread (decrypted and encrypted again, never
    loaded), so they read back there and nowhere else."""
    source, target = str(source_thread_id), str(target_thread_id)
    for sql in q.COPY_THREAD:
        yield Execute(d.q(sql), (target, source))
    if serde is not None and binds_place(serde) and source != target:
        yield from _reseal_thread(d, serde, source, target)


# (table, kind, key columns after thread_id, (type, bytes) column pairs) of sealed values
_SEALED = (
    ("waypoint_checkpoints", "checkpoint", ("checkpoint_ns", "checkpoint_id"), (("type", "checkpoint"),)),
    ("waypoint_checkpoints", "metadata", ("checkpoint_ns", "checkpoint_id"), (("metadata_type", "metadata_blob"),)),
    ("waypoint_blobs", "blob", ("checkpoint_ns", "channel", "version"), (("type", "blob"),)),
    ("waypoint_writes", "write", ("checkpoint_ns", "checkpoint_id", "task_id", "idx"), (("type", "blob"),)),
    ("waypoint_log_chunks", "page", ("checkpoint_ns", "lineage_id", "first_item"), (("type", "items"),)),
)


def _reseal_thread(d: Dialect, serde: Any, source: str, target: str) -> Op[None]:
    from waypoint.checkpoint.serde.encrypted import BOUND_SUFFIX
    from waypoint.errors import EncryptedPlacementError

    for table, kind, keys, ((type_col, data_col),) in _SEALED:
        cols = ", ".join(keys)
        rows = yield Fetch(
            d.q(f"SELECT {cols}, {type_col}, {data_col} FROM {table} WHERE thread_id = ? "
                f"AND {type_col} LIKE ?"),
            (target, "%" + BOUND_SUFFIX),
        )
        updates = []
        for row in rows:
            key, tag, data = row[: len(keys)], row[-2], bytes(row[-1])
            parts = tuple(str(k) for k in key)
            try:
                _, sealed = serde.reseal((tag, data), (kind, source, *parts), (kind, target, *parts))
            except EncryptedPlacementError:
                continue  # the target's own row (not overwritten by the copy): already its own
            updates.append((sealed, target, *key))
        if updates:
            where = " AND ".join(f"{k} = ?" for k in keys)
            yield ExecuteMany(d.q(f"UPDATE {table} SET {data_col} = ? WHERE thread_id = ? AND {where}"), updates)


def prune(d: Dialect, thread_ids: Sequence[str], strategy: str, keep_last: int | None) -> Op[None]:
    """Keep the newest ``keep`` checkpoints per namespace, then sweep what nothing refers to."""
    keep = prune_keep_count(strategy, keep_last)
    for thread_id in (str(t) for t in thread_ids):
        yield Execute(d.q(q.PRUNE_CHECKPOINTS), (thread_id, thread_id, keep))
        yield Execute(d.q(q.PRUNE_WRITES), (thread_id,))
        yield Execute(d.prune_blobs, (thread_id, thread_id))
        yield Execute(d.prune_lineages, (thread_id,) * 5)
        yield Execute(d.q(q.PRUNE_CHUNKS), (thread_id,))


def checkpoint_row_params(
    serde: SerializerProtocol,
    thread_id: str,
    ns: str,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    parent_id: str | None,
) -> tuple[Any, ...]:
    """Parameters of ``INSERT_CHECKPOINT`` for one row of format 1 (every version's value in
    a blob row the caller writes; bulk loaders and tests use this)."""
    where = ("checkpoint", thread_id, ns, checkpoint["id"]) if binds_place(serde) else None
    type_, body, versions_json = encode_checkpoint(serde, checkpoint, where)
    md_json, md_type, md_blob, run_id = encode_metadata(serde, metadata, where and ("metadata", *where[1:]))
    return (thread_id, ns, checkpoint["id"], parent_id, type_, body, versions_json, md_json, md_type, md_blob, run_id, None)


__all__ = [
    "LIST_PAGE",
    "checkpoint_row_params",
    "copy_thread",
    "delete_for_runs",
    "delete_thread",
    "get_tuple",
    "list_checkpoints",
    "list_headers",
    "list_thread_ids",
    "prune",
    "put",
    "put_writes",
    "setup",
]
