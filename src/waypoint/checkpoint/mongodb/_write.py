"""The MongoDB saver's write path: ``put``, ``put_writes`` and ``put_batch`` as operations.

Write order is what makes a crash harmless without a transaction: a lineage's length is
claimed first, then its pages, new lineages, blobs, and the checkpoint document last, so no
checkpoint ever points at something missing. With a replica set (or mongos) the same writes run
in one transaction, retried on transient conflicts. A leased write (its config carries a
``Lease``) is fenced inside that transaction (see ``_leases``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import ReplaceOne, UpdateOne

from waypoint._ops import Op
from waypoint.checkpoint.serde.encrypted import binds_place
from waypoint.checkpoint.base import (
    batch_call,
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    LogHint,
    get_checkpoint_id,
    get_checkpoint_ns,
    get_thread_id,
    make_config,
    writes_index,
)
from waypoint.checkpoint.base.lease import get_lease
from waypoint.checkpoint.log import LOG_TYPE, encode_chain, plan_write
from waypoint.checkpoint.mongodb import _docs as d
from waypoint.checkpoint.mongodb import _leases as leases
from waypoint.checkpoint.mongodb._core import Ctx, _Retry, atomically, supports_transactions
from waypoint.checkpoint.mongodb._docs import EMPTY_TYPE, N, T, key
from waypoint.checkpoint.mongodb._exec import Bulk, Find
from waypoint.errors import StorageError


# --- put -------------------------------------------------------------------------------------


@dataclass
class _LogPlan:
    blobs: list[dict[str, Any]]
    claims: list[tuple[str, int, int]]  # (lineage _id, old length, new length)
    lineages: list[dict[str, Any]]
    pages: list[dict[str, Any]]


def _plan_logs(
    ctx: Ctx, thread_id: str, ns: str, logs: Mapping[str, tuple[Any, list[Any], LogHint]], optimistic: bool
) -> Op[_LogPlan]:
    """Read the stored base of every log channel and plan its write (``log.plan_write``).

    ``optimistic``: assume each base is still its lineage's head (true unless the thread was
    forked) instead of reading the lineage rows; the conditional length claim catches a wrong
    guess and the caller retries non-optimistically.
    """
    base_ids = {
        ch: key(thread_id, ns, ch, str(hint.base_version))
        for ch, (_, _, hint) in logs.items()
        if hint.base_version is not None
    }
    found = (yield Find(ctx.names.blobs, {"_id": {"$in": sorted(set(base_ids.values()))}})) if base_ids else []
    bases = {doc["_id"]: doc for doc in found if doc.get("type") == LOG_TYPE}
    lineages: dict[str, Any] = {}
    if not optimistic and bases:
        lineage_ids = sorted({key(thread_id, ns, doc.get("lineage")) for doc in bases.values()})
        lineages = {row["_id"]: row for row in (yield Find(ctx.names.lineages, {"_id": {"$in": lineage_ids}}))}
    plan = _LogPlan([], [], [], [])
    for ch, (version, value, hint) in logs.items():
        base_ref = base = None
        doc = bases.get(base_ids.get(ch, ""))
        try:
            if doc is not None and optimistic:
                base_ref, base = d.log_of(doc)
            elif doc is not None and (row := lineages.get(key(thread_id, ns, doc.get("lineage")))):
                base_ref, base = d.log_of(doc)[0], d.lineage_of(row)
        except (ValueError, KeyError):
            base_ref = base = None  # an unreadable base: store the value as a fresh log
        write = plan_write(value, hint, base_ref, base)
        if write.new_lineage is not None:
            plan.lineages.append(d.lineage_doc(thread_id, ns, write.new_lineage))
        # the chain of the lineage the new version points into: the new one, or a base level
        full = (write.new_lineage or base).chain  # type: ignore[union-attr]  # no base => new
        chain = encode_chain(full[: [lid for lid, _ in full].index(write.ref.lineage) + 1])
        if write.extend is not None:
            lid, old, new = write.extend
            plan.claims.append((key(thread_id, ns, lid), old, new))
        bound = binds_place(ctx.serde)
        for page in write.pages:
            items = [list(d.typed(ctx.serde, item, ("item", thread_id, ns, page.lineage, str(page.page), str(i)) if bound else None))
                     for i, item in enumerate(page.items)]
            plan.pages.append(d.page_doc(thread_id, ns, page.lineage, page.page, items))
        plan.blobs.append(d.blob_doc(thread_id, ns, ch, version, **d.log_blob_fields(write.ref, chain)))
    return plan


def _insert_if_absent(doc: dict[str, Any]) -> UpdateOne:
    body = {k: v for k, v in doc.items() if k != "_id"}
    return UpdateOne({"_id": doc["_id"]}, {"$setOnInsert": body}, upsert=True)


Body = Callable[[], Op[None]]


def _put_body(
    ctx: Ctx,
    config: dict[str, Any],
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    new_versions: ChannelVersions,
) -> Body:
    """The writes of one ``put`` as a body ``atomically`` may run (and re-run) in a transaction."""
    thread_id, ns = get_thread_id(config), get_checkpoint_ns(config)
    parent_id = get_checkpoint_id(config)
    values = checkpoint.get("channel_values", {})
    hints = checkpoint.get("channel_logs") or {}
    cp_doc = d.checkpoint_doc(ctx.serde, thread_id, ns, checkpoint, metadata, parent_id)
    plain: list[dict[str, Any]] = []
    logs: dict[str, tuple[Any, list[Any], LogHint]] = {}
    for ch, version in new_versions.items():
        if ch not in values:
            plain.append(d.blob_doc(thread_id, ns, ch, version, type=EMPTY_TYPE))
        elif ch in hints and isinstance(values[ch], list):
            logs[ch] = (version, list(values[ch]), hints[ch])
        else:
            place = ("blob", thread_id, ns, ch, str(version)) if binds_place(ctx.serde) else None
            ty, data = d.typed(ctx.serde, values[ch], place)
            plain.append(d.blob_doc(thread_id, ns, ch, version, type=ty, value=data))

    optimistic = [True]

    def body() -> Op[None]:
        plan = _LogPlan([], [], [], [])
        if logs:
            plan = yield from _plan_logs(ctx, thread_id, ns, logs, optimistic[0])
        if plan.claims:
            ops = [UpdateOne({"_id": lid, "length": old}, {"$set": {"length": new}}) for lid, old, new in plan.claims]
            result = yield Bulk(ctx.names.lineages, ops)
            if result.matched_count != len(ops):
                optimistic[0] = False
                raise _Retry("a log lineage is no longer where its base version ended")
        if plan.pages:
            yield Bulk(ctx.names.pages, [
                UpdateOne({"_id": p["_id"]}, {"$set": {"items": p["items"]},
                          "$setOnInsert": {k: p[k] for k in (T, N, "lineage", "page")}}, upsert=True)
                for p in plan.pages
            ])
        if plan.lineages:
            yield Bulk(ctx.names.lineages, [_insert_if_absent(row) for row in plan.lineages])
        blobs = plain + plan.blobs
        if blobs:
            yield Bulk(ctx.names.blobs, [_insert_if_absent(doc) for doc in blobs])
        yield Bulk(ctx.names.checkpoints, [ReplaceOne({"_id": cp_doc["_id"]}, cp_doc, upsert=True)])

    return body


def _fenced(ctx: Ctx, configs: Sequence[dict[str, Any]], bodies: Sequence[Body]) -> Op[Body]:
    """``bodies`` with the fence of every distinct lease their configs carry: last inside a
    transaction (the lease document is then locked only for the commit, so a takeover waits
    on it only that long), first without one (a refused write must not have started)."""
    held = list(dict.fromkeys(lease for c in configs if (lease := get_lease(c)) is not None))
    last = yield from supports_transactions(ctx)

    def body() -> Op[None]:
        if not last:
            for lease in held:
                yield from leases.fence(ctx, lease)
        for one in bodies:
            yield from one()
        if last:
            for lease in held:
                yield from leases.fence(ctx, lease)

    return body


def _head(ctx: Ctx, config: dict[str, Any], checkpoint_id: str) -> Op[None]:
    """Raise the thread's head hint to ``checkpoint_id`` (after the checkpoint is stored)."""
    thread_id, ns = get_thread_id(config), get_checkpoint_ns(config)
    head = {"$max": {"checkpoint_id": checkpoint_id}, "$setOnInsert": {T: thread_id, N: ns}}
    try:
        yield Bulk(ctx.names.heads, [UpdateOne({"_id": key(thread_id, ns)}, head, upsert=True)])
    except StorageError:
        pass  # the head is a hint; get_tuple stays correct without it


def put(
    ctx: Ctx,
    config: dict[str, Any],
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    new_versions: ChannelVersions,
) -> Op[dict[str, Any]]:
    """Store a checkpoint (fenced by its lease, if its config carries one)."""
    body = _put_body(ctx, config, checkpoint, metadata, new_versions)
    yield from atomically(ctx, (yield from _fenced(ctx, [config], [body])))
    yield from _head(ctx, config, checkpoint["id"])
    return make_config(get_thread_id(config), get_checkpoint_ns(config), checkpoint["id"])


def put_batch(ctx: Ctx, calls: Sequence[tuple[Any, ...]]) -> Op[None]:
    """The engine's queued ``put``/``put_writes`` calls, in order, over one executor session.

    Leased calls on a server with transactions run in one transaction behind one fence (a
    stale batch writes nothing). Otherwise each ``put`` keeps its own transaction (or ordered
    writes), so a crash still never orphans a checkpoint."""
    parsed = [batch_call(call) for call in calls]
    if not any(get_lease(args[0]) for _, args in parsed) or not (yield from supports_transactions(ctx)):
        for name, args in parsed:
            yield from (put if name == "put" else put_writes)(ctx, *args)
        return
    bodies = [_put_body(ctx, *args) if name == "put" else _writes_body(ctx, *args) for name, args in parsed]
    yield from atomically(ctx, (yield from _fenced(ctx, [args[0] for _, args in parsed], bodies)))
    for name, args in parsed:
        if name == "put":
            yield from _head(ctx, args[0], args[1]["id"])


def _writes_body(
    ctx: Ctx, config: dict[str, Any], writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
) -> Body:
    thread_id, ns = get_thread_id(config), get_checkpoint_ns(config)
    checkpoint_id = get_checkpoint_id(config)
    if checkpoint_id is None:
        raise ValueError("put_writes needs config['configurable']['checkpoint_id']")
    ops = []
    bound = binds_place(ctx.serde)
    for idx, (channel, value) in enumerate(writes):
        at = writes_index(channel, idx)
        place = ("write", thread_id, ns, checkpoint_id, task_id, str(at)) if bound else None
        doc = d.write_doc(thread_id, ns, checkpoint_id, task_id, at, channel,
                          d.typed(ctx.serde, value, place), task_path)
        _id = doc.pop("_id")
        update = {"$set": doc} if channel in WRITES_IDX_MAP else {"$setOnInsert": doc}
        ops.append(UpdateOne({"_id": _id}, update, upsert=True))

    def body() -> Op[None]:
        if ops:
            yield Bulk(ctx.names.writes, ops)

    body.size = len(ops)  # type: ignore[attr-defined]
    return body


def put_writes(
    ctx: Ctx, config: dict[str, Any], writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
) -> Op[None]:
    """Store a task's writes: one bulk write, in a transaction when several or leased."""
    body = _writes_body(ctx, config, writes, task_id, task_path)
    if get_lease(config) is None and body.size <= 1:  # type: ignore[attr-defined]
        yield from body()
    else:
        yield from atomically(ctx, (yield from _fenced(ctx, [config], [body])))


__all__ = ["put", "put_batch", "put_writes"]
