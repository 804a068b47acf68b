"""Maintenance operations of the MongoDB savers: delete, copy, prune (same request protocol
as ``_core``). Checkpoint documents are always removed before what they refer to, and garbage
collection runs in a transaction when the deployment supports one, so a reader never meets a
checkpoint whose blobs or log pages are gone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo import DeleteMany, DeleteOne, ReplaceOne, UpdateOne

from waypoint.checkpoint.serde.encrypted import binds_place
from waypoint._ops import Op
from waypoint.checkpoint.base import PruneStrategy, prune_keep_count
from waypoint.checkpoint.log import LOG_TYPE
from waypoint.checkpoint.mongodb import _docs as d
from waypoint.checkpoint.mongodb._core import Ctx, atomically
from waypoint.checkpoint.mongodb._docs import N, T, key
from waypoint.checkpoint.mongodb._exec import Bulk, Find, Next, Open
from waypoint.errors import CorruptCheckpointError

CHUNK = 1000


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def delete_thread(ctx: Ctx, thread_id: str) -> Op[None]:
    """Delete the thread's documents, and its lease unless a run holds it (tokens still only
    grow: see ``_leases``)."""
    for coll in ctx.names.thread_scoped():
        yield Bulk(coll, [DeleteMany({T: str(thread_id)})])
    free = {"$expr": {"$lte": ["$expires_at", {"$toLong": "$$NOW"}]}}  # a running run keeps its lease
    yield Bulk(ctx.names.leases, [DeleteMany({"_id": key(str(thread_id)), **free})])


def _drop(ctx: Ctx, checkpoint_ids: Sequence[str]) -> Op[None]:
    """Delete checkpoint documents (by ``_id``), then their pending writes."""
    for chunk in _chunks(sorted(checkpoint_ids)):
        yield Bulk(ctx.names.checkpoints, [DeleteMany({"_id": {"$in": list(chunk)}})])
        yield Bulk(ctx.names.writes, [DeleteMany({"checkpoint_key": {"$in": list(chunk)}})])


def delete_for_runs(ctx: Ctx, run_ids: Sequence[str]) -> Op[None]:
    runs = sorted({str(r) for r in run_ids})
    if not runs:
        return
    docs = yield Find(ctx.names.checkpoints, {"run_id": {"$in": runs}}, {T: 1, N: 1})
    if not docs:
        return
    yield from _drop(ctx, [doc["_id"] for doc in docs])
    for thread_id in sorted({doc[T] for doc in docs}):
        yield from collect_garbage(ctx, thread_id)
    yield from refresh_heads(ctx, {(doc[T], doc[N]) for doc in docs})


def prune(
    ctx: Ctx, thread_ids: Sequence[str], strategy: PruneStrategy = "keep_latest", keep_last: int | None = None
) -> Op[None]:
    keep = prune_keep_count(strategy, keep_last)
    for thread_id in dict.fromkeys(str(t) for t in thread_ids):
        docs = yield Find(ctx.names.checkpoints, {T: thread_id}, {N: 1, "checkpoint_id": 1})
        by_ns: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for doc in docs:
            by_ns[doc[N]].append(doc)
        doomed, touched = [], set()
        for ns, rows in by_ns.items():
            rows.sort(key=lambda r: r["checkpoint_id"])
            drop = rows[: max(0, len(rows) - keep)]
            doomed.extend(r["_id"] for r in drop)
            if drop:
                touched.add((thread_id, ns))
        yield from _drop(ctx, doomed)
        yield from collect_garbage(ctx, thread_id)
        yield from refresh_heads(ctx, touched)


def collect_garbage(ctx: Ctx, thread_id: str) -> Op[None]:
    """Drop the thread's blobs, lineages and pages that no remaining checkpoint needs."""

    def body() -> Op[None]:
        rows = yield Find(ctx.names.checkpoints, {T: thread_id})
        needed = set()
        for row in rows:
            checkpoint, _ = d.decode_checkpoint(ctx.serde, row)
            needed.update(key(thread_id, row[N], ch, str(v)) for ch, v in checkpoint["channel_versions"].items())
        fields = {N: 1, "channel": 1, "type": 1, "lineage": 1, "length": 1, "chain": 1}
        blobs = yield Find(ctx.names.blobs, {T: thread_id}, fields)
        live: dict[str, set[str]] = defaultdict(set)
        doomed = []
        for blob in blobs:
            if blob["_id"] not in needed:
                doomed.append(blob["_id"])
            elif blob.get("type") == LOG_TYPE:
                try:
                    _, lineage = d.log_of(blob)
                except (ValueError, KeyError) as exc:
                    raise CorruptCheckpointError(
                        f"unreadable log reference kept by a checkpoint: {exc}",
                        thread_id=thread_id, checkpoint_ns=blob[N], channel=blob.get("channel"),
                    ) from exc
                live[blob[N]].update(lid for lid, _ in lineage.chain)
        for chunk in _chunks(doomed):
            yield Bulk(ctx.names.blobs, [DeleteMany({"_id": {"$in": list(chunk)}})])
        for coll in (ctx.names.lineages, ctx.names.pages):
            dead = [DeleteMany({T: thread_id, N: {"$nin": sorted(live)}})]
            dead += [DeleteMany({T: thread_id, N: ns, "lineage": {"$nin": sorted(ids)}}) for ns, ids in live.items()]
            yield Bulk(coll, dead)

    yield from atomically(ctx, body)


def refresh_heads(ctx: Ctx, pairs: Iterable[tuple[str, str]]) -> Op[None]:
    """Point each (thread, namespace) head at its newest remaining checkpoint."""
    for thread_id, ns in sorted(pairs):
        newest = yield Find(
            ctx.names.checkpoints, {T: thread_id, N: ns}, {"checkpoint_id": 1},
            sort=[("checkpoint_id", -1)], limit=1,
        )
        head_id = key(thread_id, ns)
        if newest:
            head = {"$set": {T: thread_id, N: ns, "checkpoint_id": newest[0]["checkpoint_id"]}}
            yield Bulk(ctx.names.heads, [UpdateOne({"_id": head_id}, head, upsert=True)])
        else:
            yield Bulk(ctx.names.heads, [DeleteOne({"_id": head_id})])


def copy_thread(ctx: Ctx, source_thread_id: str, target_thread_id: str) -> Op[None]:
    """Copy every document of a thread under a new thread id, checkpoints last."""
    src, dst = str(source_thread_id), str(target_thread_id)
    if src == dst:
        return
    names = ctx.names
    fields = d.key_fields(names)
    pairs = set()
    kinds = {names.pages: "pages", names.blobs: "blobs", names.writes: "writes", names.checkpoints: "checkpoints"}
    bound = binds_place(ctx.serde)
    for coll in (names.lineages, names.pages, names.blobs, names.writes, names.checkpoints):
        cursor = yield Open(coll, {T: src}, batch_size=500)
        while docs := (yield Next(cursor, 500)):
            ops = []
            for doc in docs:
                if bound and coll in kinds:
                    d.reseal(ctx.serde, kinds[coll], doc, dst)  # encrypted values follow the copy
                doc[T] = dst
                doc["_id"] = key(*(doc[f] for f in fields[coll]))
                if coll == names.writes:
                    doc["checkpoint_key"] = key(dst, doc[N], doc["checkpoint_id"])
                if coll == names.checkpoints:
                    pairs.add((dst, doc[N]))
                ops.append(ReplaceOne({"_id": doc["_id"]}, doc, upsert=True))
            yield Bulk(coll, ops)
    yield from refresh_heads(ctx, pairs)
