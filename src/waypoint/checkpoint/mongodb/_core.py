"""The MongoDB saver, written once: one generator operation per public method.

Operations yield requests from ``_exec`` (find, cursor, bulk write, transaction) and receive
their results; they do no I/O, so ``MongoDBSaver`` and ``AsyncMongoDBSaver`` are shells that
drive them with a sync or an async executor (``waypoint._ops``). This module holds the
transaction helper, reads and setup; the write path is in ``_write``, thread leases in
``_leases``, maintenance operations (delete, copy, prune) in ``_maintenance``. The per-thread *head* document is only a
hint (a lower bound on the newest checkpoint id): the latest checkpoint is found with an index
range from it, and a stale or missing head only costs a slower query, never a wrong answer.
"""

from __future__ import annotations

import re

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne

from waypoint._ops import Emit, Op
from waypoint.checkpoint.base import (
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    list_scope,
    get_checkpoint_ns,
    get_thread_id,
    make_config,
    now_iso,
)
from waypoint.checkpoint.log import LOG_TYPE, Lineage, assemble, pages_needed
from waypoint.checkpoint.mongodb import _docs as d
from waypoint.checkpoint.mongodb._docs import EMPTY_TYPE, N, T, Names, key
from waypoint.checkpoint.mongodb._exec import Bulk, Command, Find, Indexes, Next, Open, TransactionConflict, Txn
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.checkpoint.serde.encrypted import binds_place
from waypoint.errors import CheckpointReadError, SetupError, StorageError, read_error

MAX_ATTEMPTS = 8
FIRST_BATCH, BATCH = 16, 128


@dataclass
class Ctx:
    """What every operation needs: the serializer, collection names, transaction support
    (``None`` until detected with ``hello``)."""

    serde: SerializerProtocol
    names: Names
    transactions: bool | None = None


class _Retry(Exception):
    """A conditional write lost a race: re-read and re-plan."""


def supports_transactions(ctx: Ctx) -> Op[bool]:
    """Replica sets and mongos run multi-document transactions; standalone servers do not."""
    if ctx.transactions is None:
        hello = yield Command({"hello": 1})
        clustered = bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
        ctx.transactions = clustered and "logicalSessionTimeoutMinutes" in hello
    return ctx.transactions


def atomically(ctx: Ctx, body: Callable[[], Op[Any]]) -> Op[Any]:
    """Run ``body`` in a transaction when supported (else as ordered writes), retrying
    transient conflicts and lost conditional writes."""
    use = yield from supports_transactions(ctx)
    attempt = 0
    while True:
        attempt += 1
        if use:
            yield Txn("begin")
        try:
            result = yield from body()
            if use:
                yield Txn("commit")
            return result
        except (TransactionConflict, _Retry) as exc:
            if use:
                yield Txn("abort")
            if attempt >= MAX_ATTEMPTS:
                raise StorageError(f"gave up after {MAX_ATTEMPTS} conflicting attempts: {exc}") from exc
        except Exception:
            if use:
                yield Txn("abort")
            raise


# --- read ------------------------------------------------------------------------------------


def get_tuple(ctx: Ctx, config: dict[str, Any]) -> Op[CheckpointTuple | None]:
    thread_id, ns = get_thread_id(config), get_checkpoint_ns(config)
    checkpoint_id = get_checkpoint_id(config)
    newest = [("checkpoint_id", -1)]
    if checkpoint_id is not None:
        docs = yield Find(ctx.names.checkpoints, {"_id": key(thread_id, ns, checkpoint_id)})
    else:
        heads = yield Find(ctx.names.heads, {"_id": key(thread_id, ns)})
        docs = []
        if heads and isinstance(heads[0].get("checkpoint_id"), str):
            since = {T: thread_id, N: ns, "checkpoint_id": {"$gte": heads[0]["checkpoint_id"]}}
            docs = yield Find(ctx.names.checkpoints, since, sort=newest, limit=1)
        if not docs:
            docs = yield Find(ctx.names.checkpoints, {T: thread_id, N: ns}, sort=newest, limit=1)
    if not docs:
        return None
    return (yield from load(ctx, docs))[0]


def list_checkpoints(
    ctx: Ctx,
    config: dict[str, Any] | None,
    filter: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
    limit: int | None = None,
) -> Op[None]:
    """Stream matching checkpoints newest first, in batches (a few queries per batch)."""
    metadata_keys = d.metadata_filter(filter)  # validated before anything runs
    thread_id, ns, checkpoint_id, limit = list_scope(config, filter, limit)
    if limit is not None and limit <= 0:
        return
    query: dict[str, Any] = {}
    if thread_id is not None:
        query[T] = thread_id
    if ns is not None:
        query[N] = ns
    id_cond: dict[str, Any] = {}
    if checkpoint_id:
        id_cond["$eq"] = checkpoint_id
    before_id = get_checkpoint_id(before) if before else None
    if before_id:
        id_cond["$lt"] = before_id
    if id_cond:
        query["checkpoint_id"] = id_cond
    if metadata_keys:
        query["metadata_keys"] = metadata_keys[0] if len(metadata_keys) == 1 else {"$all": metadata_keys}
    cursor = yield Open(
        ctx.names.checkpoints, query, sort=[("checkpoint_id", -1)], limit=limit or 0,
        batch_size=FIRST_BATCH,  # the recency index (schema 2) serves the sort: no disk sort
    )
    size = FIRST_BATCH
    while True:
        docs = yield Next(cursor, size)
        if not docs:
            return
        for tup in (yield from load_each(ctx, docs)):
            if isinstance(tup, CheckpointReadError):
                raise tup  # named, once every row before it went out
            yield Emit(tup)
        size = BATCH


def list_thread_ids(
    ctx: Ctx,
    *,
    after: str | None = None,
    limit: int | None = None,
    contains: str | None = None,
    filter: dict[str, Any] | None = None,
) -> Op[list[str]]:
    """Thread ids with a checkpoint, sorted, decoding nothing (thread ids only, in the order of
    the thread index): tools that walk thread by thread start here. ``after``/``limit`` page by
    keyset, one index seek per thread (``contains``: ids holding that text; ``filter``: threads
    with a checkpoint whose metadata matches)."""
    if after is not None or limit is not None or contains or filter:
        keys = d.metadata_filter(filter)
        out: list[str] = []
        while limit is None or len(out) < limit:
            cond: dict[str, Any] = {}
            last = out[-1] if out else after
            if last is not None:
                cond["$gt"] = last
            if contains:
                cond["$regex"] = re.escape(contains)
            query: dict[str, Any] = {T: cond} if cond else {}
            if keys:
                query["metadata_keys"] = keys[0] if len(keys) == 1 else {"$all": keys}
            found = yield Find(ctx.names.checkpoints, query, {T: 1, "_id": 0}, sort=[(T, 1)], limit=1)
            if not found:
                break
            out.append(str(found[0][T]))
        return out
    cursor = yield Open(ctx.names.checkpoints, {}, {T: 1, "_id": 0}, sort=[(T, 1)], batch_size=1000)
    out: list[str] = []
    while docs := (yield Next(cursor, 1000)):
        for doc in docs:
            if not out or out[-1] != doc.get(T):
                out.append(str(doc.get(T)))
    return out


def list_headers(
    ctx: Ctx, thread_id: str, checkpoint_ns: str, *, before: str | None = None, limit: int = 200
) -> Op[list[CheckpointTuple]]:
    """A thread's newest checkpoints without their values (two queries, no blob read): empty
    ``channel_values``, pending writes as ``(task_id, channel, None)``."""
    query: dict[str, Any] = {T: thread_id, N: checkpoint_ns}
    if before is not None:
        query["checkpoint_id"] = {"$lt": before}
    docs = yield Find(ctx.names.checkpoints, query, sort=[("checkpoint_id", -1)], limit=int(limit))
    decoded = [(doc, *d.decode_checkpoint(ctx.serde, doc)) for doc in docs]
    writes: dict[str, list[Any]] = defaultdict(list)
    if docs:
        found = yield Find(
            ctx.names.writes, {"checkpoint_key": {"$in": [doc["_id"] for doc in docs]}},
            {"checkpoint_key": 1, "task_id": 1, "channel": 1, "task_path": 1, "idx": 1},
        )
        for w in sorted(found, key=lambda w: (str(w.get("task_path", "")), str(w.get("task_id")), w.get("idx", 0))):
            writes[w["checkpoint_key"]].append((w.get("task_id"), w.get("channel"), None))
    out = []
    for doc, checkpoint, metadata in decoded:
        checkpoint["channel_values"] = {}
        parent = doc.get("parent_checkpoint_id")
        out.append(CheckpointTuple(
            make_config(thread_id, checkpoint_ns, doc["checkpoint_id"]), checkpoint, metadata,
            make_config(thread_id, checkpoint_ns, parent) if parent else None, writes.get(doc["_id"], []),
        ))
    return out


def load(ctx: Ctx, docs: Sequence[Mapping[str, Any]]) -> Op[list[CheckpointTuple]]:
    """Full tuples for checkpoint documents: three queries (blobs, log pages, writes) for the
    whole batch, whatever its size or number of threads."""
    out = yield from load_each(ctx, docs)
    for tup in out:
        if isinstance(tup, CheckpointReadError):
            raise tup
    return out  # type: ignore[return-value]


def load_each(ctx: Ctx, docs: Sequence[Mapping[str, Any]]) -> Op[list[CheckpointTuple | CheckpointReadError]]:
    """Like :func:`load`, with the error of each undecodable document in its place, so a
    listing can hand out the rows before it."""
    rows: list[tuple[Mapping[str, Any], Any, Any]] = []
    failed: dict[int, CheckpointReadError] = {}
    for i, doc in enumerate(docs):
        try:
            rows.append((doc, *d.decode_checkpoint(ctx.serde, doc)))
        except CheckpointReadError as exc:
            failed[i] = exc
    blob_ids = sorted({
        key(doc[T], doc[N], ch, str(v)) for doc, cp, _ in rows for ch, v in cp["channel_versions"].items()
    })
    found = (yield Find(ctx.names.blobs, {"_id": {"$in": blob_ids}})) if blob_ids else []
    blobs = {b["_id"]: b for b in found}
    page_ids: set[str] = set()
    for b in blobs.values():
        if b.get("type") == LOG_TYPE:
            try:
                ref, lineage = d.log_of(b)
            except (ValueError, KeyError):
                continue  # reported as corrupt when the tuple is built
            page_ids.update(key(b[T], b[N], lid, p) for lid, p in pages_needed(ref, lineage))
    pages = {}
    if page_ids:
        pages = {p["_id"]: p.get("items") for p in (yield Find(ctx.names.pages, {"_id": {"$in": sorted(page_ids)}}))}
    writes: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for w in (yield Find(ctx.names.writes, {"checkpoint_key": {"$in": [doc["_id"] for doc, _, _ in rows]}})):
        writes[w["checkpoint_key"]].append(w)
    out: list[CheckpointTuple | CheckpointReadError] = []
    decoded = iter(rows)
    for i in range(len(docs)):
        if i in failed:
            out.append(failed[i])
            continue
        doc, cp, md = next(decoded)
        try:
            out.append(_tuple(ctx, doc, cp, md, blobs, pages, writes.get(doc["_id"], [])))
        except CheckpointReadError as exc:
            out.append(exc)
    return out


def _tuple(
    ctx: Ctx,
    doc: Mapping[str, Any],
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    blobs: Mapping[str, Mapping[str, Any]],
    pages: Mapping[str, Any],
    writes: list[Mapping[str, Any]],
) -> CheckpointTuple:
    thread_id, ns, checkpoint_id = doc[T], doc[N], doc["checkpoint_id"]
    serde, bound = ctx.serde, binds_place(ctx.serde)

    def corrupt(message: str, channel: str | None, exc: BaseException | None = None) -> CheckpointReadError:
        return read_error(
            message, exc, thread_id=thread_id, checkpoint_ns=ns, checkpoint_id=checkpoint_id, channel=channel
        )

    values: dict[str, Any] = {}
    for channel, version in checkpoint["channel_versions"].items():
        blob = blobs.get(key(thread_id, ns, channel, str(version)))
        if blob is None:
            raise corrupt(f"blob for version {version!r} is missing", channel)
        try:
            if blob.get("type") == EMPTY_TYPE:
                continue
            if blob.get("type") == LOG_TYPE:
                values[channel] = _read_log(ctx, blob, pages)
            else:
                place = ("blob", thread_id, ns, channel, str(version)) if bound else None
                values[channel] = d.untyped(serde, blob["type"], blob["value"], place)
        except Exception as exc:
            raise corrupt(f"cannot decode stored value: {exc!r}", channel, exc) from exc
    checkpoint["channel_values"] = values
    pending = []
    for w in sorted(writes, key=lambda w: (str(w.get("task_path", "")), str(w.get("task_id")), w.get("idx", 0))):
        try:
            place = ("write", thread_id, ns, checkpoint_id, w["task_id"], str(w["idx"])) if bound else None
            pending.append((w["task_id"], w["channel"], d.untyped(serde, w["type"], w["value"], place)))
        except Exception as exc:
            raise corrupt(f"cannot decode pending write of task {w.get('task_id')!r}: {exc!r}", w.get("channel"), exc) from exc
    parent = doc.get("parent_checkpoint_id")
    return CheckpointTuple(
        config=make_config(thread_id, ns, checkpoint_id),
        checkpoint=checkpoint,
        metadata=metadata,
        parent_config=make_config(thread_id, ns, parent) if parent else None,
        pending_writes=pending,
    )


def _read_log(ctx: Ctx, blob: Mapping[str, Any], pages: Mapping[str, Any]) -> list[Any]:
    ref, lineage = d.log_of(blob)
    t, n = blob[T], blob[N]
    fetched = {}
    bound = binds_place(ctx.serde)
    for lid, page in pages_needed(ref, lineage):
        items = pages.get(key(t, n, lid, page))
        if items is not None:
            fetched[(lid, page)] = [
                (ty, data, ("item", t, n, lid, str(page), str(i)) if bound else None)
                for i, (ty, data) in enumerate(items)
            ]
    serde = ctx.serde
    return [d.untyped(serde, ty, data, place) for ty, data, place in assemble(ref, Lineage(lineage.chain, ref.length), fetched)]


# --- setup -----------------------------------------------------------------------------------

MIGRATIONS: list[tuple[int, str]] = [
    (1, "collections' compound unique indexes and metadata index"),
    (2, "recency indexes: checkpoints by id (list(None, limit=N)), root heads by id (thread pages)"),
]


def setup(ctx: Ctx) -> Op[None]:
    """Detect transaction support and apply missing schema migrations (idempotent)."""
    yield from supports_transactions(ctx)
    applied = {m["_id"] for m in (yield Find(ctx.names.migrations, {}))}
    newest = max(v for v, _ in MIGRATIONS)
    if any(isinstance(v, int) and v > newest for v in applied):
        raise SetupError(
            f"collection {ctx.names.migrations!r} records schema version {max(applied)}, newer than "
            f"this waypoint's {newest}: upgrade waypoint"
        )
    for version, description in MIGRATIONS:
        if version in applied:
            continue
        if version == 1:
            for coll, models in d.indexes(ctx.names).items():
                yield Indexes(coll, models)
        if version == 2:
            for coll, models in d.recency_indexes(ctx.names).items():
                yield Indexes(coll, models)
        record = {"$setOnInsert": {"description": description, "applied_at": now_iso()}}
        yield Bulk(ctx.names.migrations, [UpdateOne({"_id": version}, record, upsert=True)])

