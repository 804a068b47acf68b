"""Pages of threads on MongoDB, most recently updated first, in time independent of the number
of threads.

The ``checkpoint_heads`` documents (one per thread and namespace, raised to the newest
checkpoint id by every ``put``) are the thread summary: an index on (namespace, checkpoint_id,
thread_id) pages the root heads by keyset. A page is a handful of indexed finds whatever its
size: the heads, the newest root checkpoints (at or after each head), the checkpoint documents'
thread and namespace (counts), the page's stored documents (bytes), the pending writes' channels
and the trigger channels' blobs (``next``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import bson

from waypoint._ops import Op
from waypoint.checkpoint._summary import ThreadSummary, is_trigger
from waypoint.checkpoint.base import CheckpointTuple, make_config
from waypoint.checkpoint.mongodb import _docs as d
from waypoint.checkpoint.mongodb._docs import EMPTY_TYPE, N, T, key
from waypoint.checkpoint.mongodb._exec import Find
from waypoint.checkpoint.serde.encrypted import binds_place
from waypoint.errors import read_error

HEADS_RECENT = "wp_head_recent"


def _heads(ctx: Any, after: tuple[str, str] | None, limit: int, contains: str | None) -> Op[list[dict[str, Any]]]:
    query: dict[str, Any] = {N: ""}
    if after is not None:
        query["$or"] = [{"checkpoint_id": {"$lt": after[0]}}, {"checkpoint_id": after[0], T: {"$lt": after[1]}}]
    if contains:
        query[T] = {"$regex": re.escape(contains)}
    # the sort names the index's own order (namespace first) so the server walks it, no sort
    sort = [(N, 1), ("checkpoint_id", -1), (T, -1)]
    found = yield Find(ctx.names.heads, query, {T: 1, "checkpoint_id": 1}, sort=sort, limit=int(limit))
    return [h for h in found if isinstance(h.get("checkpoint_id"), str)]


def thread_page(
    ctx: Any,
    *,
    after: tuple[str, str] | None = None,
    limit: int = 50,
    contains: str | None = None,
    filter: Mapping[str, Any] | None = None,
) -> Op[list[ThreadSummary]]:
    """Up to ``limit`` threads after the keyset ``after`` ((newest root checkpoint id, thread
    id) of the last thread shown); ``filter``: threads with a checkpoint whose metadata
    matches (candidates are checked a page at a time)."""
    keys = d.metadata_filter(filter)
    heads: list[dict[str, Any]] = []
    cursor = after
    while len(heads) < limit:
        batch = yield from _heads(ctx, cursor, limit if not keys else max(limit * 2, 20), contains)
        if not batch:
            break
        cursor = (batch[-1]["checkpoint_id"], batch[-1][T])
        if keys:
            cond = keys[0] if len(keys) == 1 else {"$all": keys}
            matched = yield Find(ctx.names.checkpoints, {T: {"$in": [h[T] for h in batch]}, "metadata_keys": cond}, {T: 1, "_id": 0})
            hit = {m[T] for m in matched}
            batch = [h for h in batch if h[T] in hit]
        heads.extend(batch)
    heads = heads[:limit]
    page = [ThreadSummary(str(h[T]), str(h["checkpoint_id"]), None) for h in heads]
    if not page:
        return page
    by_id = {s.thread_id: s for s in page}
    ids = list(by_id)

    # each head names its thread's newest root checkpoint (put raises it in the same write):
    # one lookup by key for the page; a thread whose head row is gone is read the long way
    wanted = {key(h[T], "", h["checkpoint_id"]): h[T] for h in heads}
    docs: dict[str, Mapping[str, Any]] = {}
    for doc in (yield Find(ctx.names.checkpoints, {"_id": {"$in": list(wanted)}})):
        docs[doc[T]] = doc
    for thread_id in [t for t in ids if t not in docs]:
        found = yield Find(ctx.names.checkpoints, {T: thread_id, N: ""}, sort=[("checkpoint_id", -1)], limit=1)
        if found:
            docs[thread_id] = found[0]
    latest: dict[str, CheckpointTuple] = {}
    for thread_id, doc in docs.items():
        try:
            checkpoint, metadata = d.decode_checkpoint(ctx.serde, doc)
        except Exception as exc:
            by_id[thread_id].error = exc
            continue
        checkpoint["channel_values"] = {}
        parent = doc.get("parent_checkpoint_id")
        latest[thread_id] = CheckpointTuple(
            make_config(thread_id, "", doc["checkpoint_id"]), checkpoint, metadata,
            make_config(thread_id, "", parent) if parent else None, [],
        )

    namespaces: dict[str, set[str]] = {}
    for doc in (yield Find(ctx.names.checkpoints, {T: {"$in": ids}}, {T: 1, N: 1, "_id": 0})):
        by_id[doc[T]].checkpoints += 1
        namespaces.setdefault(doc[T], set()).add(doc[N])
    for thread_id, found in namespaces.items():
        by_id[thread_id].namespaces = len(found)
    for coll in (ctx.names.checkpoints, ctx.names.blobs, ctx.names.writes, ctx.names.lineages, ctx.names.pages):
        for doc in (yield Find(coll, {T: {"$in": ids}})):
            by_id[doc[T]].bytes += len(bson.encode(doc))

    if latest:
        found = yield Find(ctx.names.writes, {"checkpoint_key": {"$in": [key(t, "", c.checkpoint["id"]) for t, c in latest.items()]}},
                           {T: 1, "task_id": 1, "channel": 1, "task_path": 1, "idx": 1})
        for w in sorted(found, key=lambda w: (str(w.get("task_path", "")), str(w.get("task_id")), w.get("idx", 0))):
            latest[w[T]].pending_writes.append((w.get("task_id"), w.get("channel"), None))  # type: ignore[union-attr]
        wanted = [key(t, "", ch, str(v)) for t, c in latest.items() for ch, v in c.checkpoint["channel_versions"].items() if is_trigger(ch)]
        bound = binds_place(ctx.serde)
        for blob in ((yield Find(ctx.names.blobs, {"_id": {"$in": wanted}})) if wanted else []):
            t, channel = blob[T], blob["channel"]
            if blob.get("type") in (EMPTY_TYPE, d.LOG_TYPE):
                continue
            try:
                place = ("blob", t, "", channel, str(blob["version"])) if bound else None
                latest[t].checkpoint["channel_values"][channel] = d.untyped(ctx.serde, blob["type"], blob["value"], place)
            except Exception as exc:
                by_id[t].error = read_error(f"cannot decode stored value: {exc!r}", exc, thread_id=t, checkpoint_ns="",
                                            checkpoint_id=latest[t].checkpoint["id"], channel=channel)
    for s in page:
        s.latest = latest.get(s.thread_id)
    return page


def count_threads(ctx: Any) -> Op[int]:
    """Threads with a root head (an indexed count of the heads)."""
    from waypoint.checkpoint.mongodb._exec import Command

    reply = yield Command({"count": ctx.names.heads, "query": {N: ""}})
    return int(reply.get("n", 0))


__all__ = ["HEADS_RECENT", "count_threads", "thread_page"]


def storage_stats(ctx: Any) -> Op[dict[str, Any]]:
    """Threads (an indexed count of root heads), checkpoints (the collection's own document
    count) and stored bytes (``collStats`` sizes where the server reports them)."""
    from waypoint.checkpoint.mongodb._exec import Command

    threads = yield from count_threads(ctx)
    reply = yield Command({"count": ctx.names.checkpoints})
    size = 0
    for coll in (ctx.names.checkpoints, ctx.names.blobs, ctx.names.writes, ctx.names.lineages, ctx.names.pages, ctx.names.heads):
        try:
            stats = yield Command({"collStats": coll})
        except Exception:
            continue
        size += int(stats.get("storageSize", 0) or 0) + int(stats.get("totalIndexSize", 0) or 0)
    return {
        "estimated": True, "source": "MongoDB collection counts and collStats sizes",
        "threads": threads, "checkpoints": int(reply.get("n", 0)), "storage_bytes": size,
    }
