"""The write path of ``put``: where each channel of a checkpoint is stored (row format 2).

A put reads its parent's row first (one primary-key lookup) and stores each channel where it
belongs: a channel unchanged since the parent where the parent stores it; a changed item-log
channel as new log items and a reference; a small value inline in the body; anything else as
a blob row keyed by version. Then the parent's pending writes and input that hold exactly the
items this put appended to a log become references to those items, so a chat's messages are
stored once. Pure: yields requests, does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from waypoint._ops import Op
from waypoint.checkpoint._sql import dialect as q
from waypoint.checkpoint._sql.codec import (
    WRITE_REF_TYPE,
    Layout,
    decode_checkpoint_row,
    decode_lineage,
    decode_logs,
    encode_chain,
    encode_compact,
)
from waypoint.checkpoint._sql.compact import is_small
from waypoint.checkpoint._sql.dialect import Dialect
from waypoint.checkpoint._sql.metadata import dumps_at, dumps_json, encode_metadata
from waypoint.checkpoint._sql.requests import Execute, ExecuteMany, Fetch
from waypoint.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    LogHint,
    get_checkpoint_id,
    get_checkpoint_ns,
    get_thread_id,
    make_config,
)
from waypoint.checkpoint.log import LogRef, LogWrite, plan_write
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.checkpoint.serde.encrypted import binds_place
from waypoint.errors import CorruptCheckpointError


class Parent(NamedTuple):
    """What a put needs of the checkpoint it builds on: where each of its channels lives."""

    versions: dict[str, Any]
    blobs: dict[str, Any] | None  # format 2: channels stored as blob rows (None: format 1)
    logs: dict[str, LogRef]
    inline: dict[str, Any]
    empty: set[str]


def _parent(d: Dialect, serde: SerializerProtocol, thread_id: str, ns: str, parent_id: str | None) -> Op[Parent | None]:
    if parent_id is None:
        return None
    rows = yield Fetch(d.q(q.SELECT_PARENT), (thread_id, ns, parent_id))
    if not rows:
        return None
    type_, body, column, logs = rows[0]
    row = ("c", thread_id, ns, parent_id, None, column, "{}", None, type_, body, None, None)
    cp = decode_checkpoint_row(row, serde)  # a corrupt parent raises, named
    try:
        refs = decode_logs(logs) if cp.blobs is not None else {}
    except Exception as exc:
        raise cp.where.corrupt("cannot decode the checkpoint's log references", exc=exc) from exc
    return Parent(cp.checkpoint["channel_versions"], cp.blobs, refs, cp.inline or {}, cp.empty or set())


def _plan_log(
    d: Dialect,
    thread_id: str,
    ns: str,
    channel: str,
    value: list[Any],
    hint: LogHint,
    parent: Parent | None,
) -> Op[LogWrite]:
    base_ref = base = None
    if hint.base_version is not None:
        if parent is not None and channel in parent.logs and parent.versions.get(channel) == hint.base_version:
            base_ref = parent.logs[channel]
            rows = yield Fetch(d.q(q.SELECT_LINEAGE) + d.lock_base, (thread_id, ns, base_ref.lineage))
            rows = [(base_ref.lineage, base_ref.length, *r) for r in rows]
        else:  # format 1: the base version's blob row holds the reference
            rows = yield Fetch(d.q(q.SELECT_LOG_BASE) + d.lock_base, (thread_id, ns, channel, str(hint.base_version)))
        if rows:
            lineage_id, ref_len, chain, length = rows[0]
            try:
                base = decode_lineage(lineage_id, chain, length)
            except Exception as exc:
                raise CorruptCheckpointError(
                    f"cannot decode log lineage {lineage_id!r}: {exc}",
                    thread_id=thread_id, checkpoint_ns=ns, channel=channel,
                ) from exc
            base_ref = LogRef(lineage_id, int(ref_len))
        else:
            base_ref = None
    return plan_write(value, hint, base_ref, base, layout="chunks")


def put_one(
    d: Dialect,
    serde: SerializerProtocol,
    config: Mapping[str, Any],
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    new_versions: ChannelVersions,
    written: dict[tuple[str, str, str], Parent] | None = None,
) -> Op[dict[str, Any]]:
    """Store one checkpoint (see the module's text). ``written``: the checkpoints put earlier
    in the same transaction, as their children see them; a parent found there is not read
    back (a batch of a run's steps reads only its first parent), and this put is added."""
    thread_id = get_thread_id(config)
    ns = get_checkpoint_ns(config)
    parent_id = get_checkpoint_id(config)
    values = checkpoint.get("channel_values") or {}
    hints = checkpoint.get("channel_logs") or {}
    known = None if written is None or parent_id is None else written.get((thread_id, ns, parent_id))
    parent = known if known is not None else (yield from _parent(d, serde, thread_id, ns, parent_id))
    bound = binds_place(serde)
    layout = Layout({}, [], {}, {})
    blobs: list[tuple[Any, ...]] = []
    lineages: list[tuple[Any, ...]] = []
    extends: list[tuple[Any, ...]] = []
    chunks: list[tuple[Any, ...]] = []
    trims: list[tuple[Any, ...]] = []
    appended: list[tuple[str, str, int, list[Any]]] = []  # (channel, lineage, own first, items)
    for channel, version in (checkpoint.get("channel_versions") or {}).items():
        changed = channel in new_versions
        if changed and channel not in values:
            layout.empty.append(channel)
            continue
        value = values.get(channel)
        if changed and channel in hints and isinstance(value, list):
            plan = yield from _plan_log(d, thread_id, ns, channel, value, hints[channel], parent)
            layout.logs[channel] = plan.ref
            if plan.new_lineage is not None:
                lineages.append((thread_id, ns, plan.new_lineage.id, encode_chain(plan.new_lineage), plan.new_lineage.length))
            if plan.extend is not None:
                lid, old, new = plan.extend
                extends.append((new, thread_id, ns, lid, old))
            for chunk in plan.chunks:
                page = ("page", thread_id, ns, chunk.lineage, str(chunk.first)) if bound else None
                chunks.append((thread_id, ns, chunk.lineage, chunk.first, *dumps_at(serde, chunk.items, page)))
            trims.extend((thread_id, ns, *trim) for trim in plan.trims)
            if plan.chunks and not bound and parent_id is not None:
                last = plan.chunks[-1]
                start = len(value) - (last.first + len(last.items))  # the lineage's first own item
                new_from = plan.extend[1] if plan.extend is not None else start
                new_from = max(new_from, len(value) - REF_WINDOW)
                appended.append((channel, plan.ref.lineage, new_from - start, value[new_from:]))
            continue
        if not changed and parent is not None and parent.versions.get(channel) == version:
            # unchanged since the parent: stored where the parent stores it (callers may leave
            # unchanged channels out of channel_values, as LangGraph's savers allow)
            if parent.blobs is None or channel in parent.blobs:
                layout.blobs[channel] = version  # format 1 wrote a blob row per version
                continue
            if channel in parent.logs:
                layout.logs[channel] = parent.logs[channel]
                continue
            if channel in parent.inline:
                layout.inline[channel] = parent.inline[channel]
                continue
            if channel in parent.empty:
                layout.empty.append(channel)
                continue
        if not changed and channel not in values:  # as format 1: a blob row for its version
            layout.blobs[channel] = version
            continue
        if is_small(value):
            layout.inline[channel] = value
            continue
        layout.blobs[channel] = version
        key = (thread_id, ns, channel, str(version))
        blobs.append((*key, *dumps_at(serde, value, ("blob", *key) if bound else None), None, None))
    for sql, seq in (
        (q.INSERT_BLOB, blobs),
        (q.INSERT_LINEAGE, lineages),
        (q.EXTEND_LINEAGE, extends),
        (q.UPSERT_CHUNK, chunks),
        (q.TRIM_CHUNKS, trims),
    ):
        if seq:
            yield ExecuteMany(d.q(sql), seq)
    for channel, lineage, first, items in appended:
        yield from _ref_parent_writes(d, serde, thread_id, ns, parent_id, channel, lineage, first, items)  # type: ignore[arg-type]
        yield from _ref_parent_input(d, serde, thread_id, ns, parent, channel, lineage, first, items)
    where = ("checkpoint", thread_id, ns, checkpoint["id"]) if bound else None
    type_, body, blob_versions, logs = encode_compact(serde, checkpoint, layout, where)
    md_json, md_type, md_blob, run_id = encode_metadata(serde, metadata, where and ("metadata", *where[1:]))
    row = (thread_id, ns, checkpoint["id"], parent_id, type_, body, blob_versions, md_json, md_type, md_blob, run_id, logs)
    yield Execute(d.q(q.INSERT_CHECKPOINT), row)
    if written is not None:  # what _parent would read back from the row just written
        written[(thread_id, ns, checkpoint["id"])] = Parent(
            dict(checkpoint.get("channel_versions") or {}), dict(layout.blobs), dict(layout.logs),
            dict(layout.inline), set(layout.empty))
    return make_config(thread_id, ns, checkpoint["id"])


REF_WINDOW = 16  # newest appended items a parent's pending write is matched against


def _ref_parent_writes(
    d: Dialect,
    serde: SerializerProtocol,
    thread_id: str,
    ns: str,
    parent_id: str,
    channel: str,
    lineage: str,
    first: int,
    items: list[Any],
) -> Op[None]:
    """Store each pending write of the parent to ``channel`` whose value is exactly a run of
    the items this put appended to the log (same serialized bytes) as a reference to them:
    the messages a chat's tasks wrote are then stored once, in the log."""
    rows = yield Fetch(d.q(q.SELECT_PARENT_WRITES), (thread_id, ns, parent_id, channel))
    if not rows:
        return
    dumped: dict[tuple[int, int], tuple[str, bytes]] = {}
    refs = []
    for task_id, idx, type_, blob in rows:
        if blob is None:
            continue
        data = bytes(blob)
        found = _find_run(serde, items, (type_, data), dumped)
        if found is not None:
            lo, hi = found
            ref = dumps_json([lineage, first + lo, hi - lo]).encode()
            refs.append((ref, thread_id, ns, parent_id, task_id, idx))
    if refs:
        yield ExecuteMany(d.q(q.REF_WRITE), refs)


INPUT = "__start__"  # the channel holding a graph's input until its first step


def _ref_parent_input(
    d: Dialect,
    serde: SerializerProtocol,
    thread_id: str,
    ns: str,
    parent: Parent | None,
    channel: str,
    lineage: str,
    first: int,
    items: list[Any],
) -> Op[None]:
    """Store the parent's input ``{channel: [items]}`` (its ``__start__`` blob) as a reference
    to the items this put appended to ``channel``'s log, when it is exactly those items."""
    version = parent.blobs.get(INPUT) if parent is not None and parent.blobs else None
    if version is None:
        return
    key = (thread_id, ns, INPUT, str(version))
    rows = yield Fetch(d.q(q.SELECT_BLOB), key)
    if not rows or rows[0][0] == WRITE_REF_TYPE or rows[0][1] is None:
        return
    want = (rows[0][0], bytes(rows[0][1]))
    for lo in range(len(items)):
        for hi in range(lo + 1, len(items) + 1):
            if serde.dumps_typed({channel: items[lo:hi]}) == want:
                ref = dumps_json([lineage, first + lo, hi - lo, channel]).encode()
                yield Execute(d.q(q.REF_BLOB), (ref, *key))
                return


def _find_run(
    serde: SerializerProtocol, items: list[Any], want: tuple[str, bytes], dumped: dict[tuple[int, int], tuple[str, bytes]]
) -> tuple[int, int] | None:
    for lo in range(len(items)):
        for hi in range(lo + 1, len(items) + 1):
            key = (lo, hi)
            if key not in dumped:
                dumped[key] = serde.dumps_typed(items[lo:hi])
            if dumped[key] == want:
                return key
    return None


