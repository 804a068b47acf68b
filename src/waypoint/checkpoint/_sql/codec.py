"""Encoders for what the SQL savers store, and one pure decoder per row type.

Every decoder either returns a complete value or raises ``CorruptCheckpointError`` naming the
thread, namespace, checkpoint and channel; a checkpoint is never returned with part of its
state missing. Metadata and canonical JSON are encoded in ``metadata.py`` (re-exported).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from waypoint.checkpoint._fresh import PageCache, paused_gc
from waypoint.checkpoint._sql.compact import FORMAT_KEY, decode_body, encode_body
from waypoint.checkpoint._sql.metadata import dumps_at, dumps_json, encode_filter_value, encode_metadata, nul_mismatch

from waypoint.checkpoint.base import (
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    make_config,
)
from waypoint.checkpoint.log import LOG_TYPE, Lineage, LogRef, assemble_chunks, levels
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.checkpoint.serde.encrypted import binds_place
from waypoint.errors import CheckpointReadError, CorruptCheckpointError, read_error

EMPTY_TYPE = "empty"
WRITE_REF_TYPE = "logref"  # a write or input blob kept as a reference to log items
_SKIP = ("channel_values", "channel_versions", "channel_logs", "id")

# The tuples query returns rows of this shape; ``kind`` says which fields are used:
#   c  checkpoint: s1 parent id, s2 channel_versions json, s3 metadata json, t1/b1 body,
#                  t2/b2 exact metadata (or NULL), x logs json (or NULL)
#   b  blob:       s1 channel, s2 version, s3 log lineage, n1 log length, t1/b1 value
#   w  write:      s1 task_id, s2 channel, s3 task_path, n1 idx, t1/b1 value
#   l  lineage:    s1 lineage id, s2 chain json, n1 length
#   p  log chunk:  s1 lineage id, n1 first own item, t1/b1 serialized list of items
Row = Sequence[Any]


def loads_at(serde: SerializerProtocol, data: tuple[str, bytes], place: tuple[str, ...] | None) -> Any:
    """``serde.loads_typed(data)``, checked against ``place`` when the serializer binds places."""
    return serde.loads_typed(data) if place is None else serde.loads_typed(data, place)  # type: ignore[call-arg]


# --- encoders --------------------------------------------------------------------------------


def encode_checkpoint(
    serde: SerializerProtocol, checkpoint: Checkpoint, place: tuple[str, ...] | None = None
) -> tuple[str, bytes, str]:
    """Row format 1 (type, body bytes, channel_versions json): everything but values, logs
    and the id; every version's value is a blob row (bulk loaders and tests write these)."""
    body = {k: v for k, v in checkpoint.items() if k not in _SKIP}
    type_, data = dumps_at(serde, body, place)
    return type_, data, dumps_json(dict(checkpoint.get("channel_versions") or {}))


def encode_compact(
    serde: SerializerProtocol,
    checkpoint: Checkpoint,
    layout: "Layout",
    place: tuple[str, ...] | None = None,
) -> tuple[str, bytes, str, str | None]:
    """Row format 2 (type, body bytes, blob versions json, logs json): see ``compact.py``."""
    body = encode_body(checkpoint, layout.inline, layout.empty)
    type_, data = dumps_at(serde, body, place)
    logs = {ch: [ref.lineage, ref.length] for ch, ref in layout.logs.items()}
    return type_, data, dumps_json(layout.blobs), dumps_json(logs) if logs else None


class Layout(NamedTuple):
    """Where each channel of a format-2 row lives: inline values, empty channels, blob rows
    (channel -> version) and item logs (channel -> LogRef)."""

    inline: dict[str, Any]
    empty: list[str]
    blobs: dict[str, Any]
    logs: dict[str, LogRef]


# --- decoders --------------------------------------------------------------------------------


class Where(NamedTuple):
    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str | None

    def corrupt(self, message: str, channel: str | None = None, exc: BaseException | None = None) -> CheckpointReadError:
        detail = f"{message}: {type(exc).__name__}: {exc}" if exc is not None else message
        return read_error(
            detail,
            exc,
            thread_id=self.thread_id,
            checkpoint_ns=self.checkpoint_ns,
            checkpoint_id=self.checkpoint_id,
            channel=channel,
        )


class CheckpointRow(NamedTuple):
    where: Where
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    parent_id: str | None
    # format 2 only (None for format 1): inline values, empty channels, blob channels
    inline: dict[str, Any] | None = None
    empty: set[str] | None = None
    blobs: dict[str, Any] | None = None


def decode_checkpoint_row(row: Row, serde: SerializerProtocol) -> CheckpointRow:
    """Decode a ``c`` row: the checkpoint without channel values, metadata and parent."""
    where = Where(row[1], row[2], row[3])
    bound = binds_place(serde)
    inline = empty = blobs = None
    try:
        body = loads_at(serde, (row[8], bytes(row[9])), ("checkpoint", *where) if bound else None)
        if not isinstance(body, dict):
            raise TypeError(f"checkpoint body is a {type(body).__name__}, not a dict")
        column = json.loads(row[5])
        if not isinstance(column, dict):
            raise TypeError("channel_versions is not an object")
        if FORMAT_KEY in body:
            body, inline, empty = decode_body(body)
            versions, blobs = body.pop("channel_versions"), column
        else:
            versions = column
    except Exception as exc:
        raise where.corrupt("cannot decode the checkpoint row", exc=exc) from exc
    try:
        if row[10] is not None:
            metadata = loads_at(serde, (row[10], bytes(row[11])), ("metadata", *where) if bound else None)
        else:
            metadata = json.loads(row[6])
        if not isinstance(metadata, dict):
            raise TypeError(f"metadata is a {type(metadata).__name__}, not a dict")
    except Exception as exc:
        raise where.corrupt("cannot decode the checkpoint metadata", exc=exc) from exc
    checkpoint: Checkpoint = {"v": body.pop("v", 1), "id": row[3], **body}  # type: ignore[typeddict-item]
    checkpoint["channel_versions"] = versions
    checkpoint["channel_values"] = {}  # assembled by ``_tuple`` (format 2: from ``inline`` too)
    checkpoint.setdefault("versions_seen", {})
    checkpoint.setdefault("updated_channels", None)
    return CheckpointRow(where, checkpoint, metadata, row[4], inline, empty, blobs)  # type: ignore[arg-type]


def decode_logs(text: Any) -> dict[str, LogRef]:
    """The ``logs`` column of a format-2 row (json text, parsed json, or NULL)."""
    if text is None:
        return {}
    logs = json.loads(text) if isinstance(text, (str, bytes)) else text
    if not isinstance(logs, dict):
        raise TypeError("logs is not an object")
    out = {}
    for channel, ref in logs.items():
        lineage, length = ref
        if not isinstance(lineage, str) or type(length) is not int or length < 0:
            raise ValueError(f"malformed log reference {ref!r}")
        out[channel] = LogRef(lineage, length)
    return out


def decode_blob_row(row: Row, serde: SerializerProtocol, where: Where) -> Any:
    """Decode a ``b`` row: the channel's value, ``EMPTY_TYPE`` when empty, or a LogRef."""
    channel = row[4]
    type_ = row[8]
    if type_ == EMPTY_TYPE:
        return EMPTY_TYPE
    if type_ == LOG_TYPE:
        if not isinstance(row[6], str) or not isinstance(row[7], int) or row[7] < 0:
            raise where.corrupt(f"malformed log reference {row[6]!r}:{row[7]!r}", channel)
        return LogRef(row[6], row[7])
    place = ("blob", where.thread_id, where.checkpoint_ns, channel, str(row[5])) if binds_place(serde) else None
    try:
        return loads_at(serde, (type_, bytes(row[9])), place)
    except Exception as exc:
        raise where.corrupt("cannot decode stored value", channel, exc) from exc


def decode_write_row(row: Row, serde: SerializerProtocol) -> PendingWrite:
    """Decode a ``w`` row into ``(task_id, channel, value)``."""
    where = Where(row[1], row[2], row[3])
    place = ("write", *where, row[4], str(row[7])) if binds_place(serde) else None
    try:
        value = loads_at(serde, (row[8], bytes(row[9])), place)
    except Exception as exc:
        raise where.corrupt(f"cannot decode pending write of task {row[4]!r}", row[5], exc) from exc
    return (row[4], row[5], value)


def decode_lineage(lineage_id: str, chain_json: Any, length: Any) -> Lineage:
    """Decode a lineage from its id, chain (json text, or already parsed by the driver) and
    length; raises ValueError when malformed."""
    chain = json.loads(chain_json) if isinstance(chain_json, (str, bytes)) else chain_json
    if not isinstance(chain, list) or not chain:
        raise ValueError(f"malformed lineage chain {chain_json!r}")
    decoded = tuple((str(lid), int(start)) for lid, start in chain)
    if decoded[-1][0] != lineage_id or not isinstance(length, int):
        raise ValueError(f"lineage {lineage_id!r} has a malformed row ({chain_json!r}, {length!r})")
    return Lineage(decoded, length)


def decode_lineage_row(row: Row) -> Lineage:
    """Decode an ``l`` row (or raise ValueError, named by the caller)."""
    return decode_lineage(row[4], row[5], row[7])


def decode_page_row(row: Row, serde: SerializerProtocol) -> list[Any]:
    """Decode a ``p`` row into its list of items (or raise, named by the caller).

    Large rows (full pages) go through the serializer's :class:`PageCache`: a page read again
    (every turn rereads the thread's history) is rebuilt from its cached decoded state, as
    fresh objects, instead of being deserialized item by item."""
    type_, data = row[8], bytes(row[9])
    place = ("page", row[1], row[2], row[4], str(row[7])) if binds_place(serde) else None
    cache = _page_cache(serde) if len(data) >= CACHE_MIN_BYTES else None
    if cache is None:
        return _decode_items(serde, type_, data, place)
    # a sealed page is cached under its place too: the same bytes elsewhere must not hit
    key = type_ if place is None else f"{type_}\x00{dumps_json(place)}"
    return cache.read(key, data, lambda: _decode_items(serde, type_, data, place))


CACHE_MIN_BYTES = 4096  # smaller rows (one turn's messages) decode as fast as a cache hit
_caches: "weakref.WeakKeyDictionary[Any, PageCache]" = weakref.WeakKeyDictionary()


def _page_cache(serde: SerializerProtocol) -> PageCache | None:
    """The decoded-page cache of ``serde`` (one per serializer object: what a page decodes
    to depends on the serializer's type policy and keys); None if it cannot be weakly held."""
    try:
        cache = _caches.get(serde)
        if cache is None:
            cache = _caches.setdefault(serde, PageCache())
    except TypeError:
        return None
    return cache


def _decode_items(serde: SerializerProtocol, type_: str, data: bytes, place: tuple[str, ...] | None = None) -> list[Any]:
    items = loads_at(serde, (type_, data), place)
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"log page holds a {type(items).__name__}, not a list")
    return list(items)


def encode_chain(lineage: Lineage) -> str:
    return dumps_json([[lid, start] for lid, start in lineage.chain])


# --- assembling tuples -----------------------------------------------------------------------


class _Rows:
    """The rows of one tuples query, indexed for assembling checkpoints."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.checkpoints: list[Row] = []
        self.blobs: dict[tuple[str, str, str, str], Row] = {}
        self.writes: dict[tuple[str, str, str], list[Row]] = {}
        self.lineages: dict[tuple[str, str, str], Row] = {}
        self.chunks: dict[tuple[str, str, str], list[tuple[int, Row]]] = {}
        for row in rows:
            kind = row[0]
            if kind == "c":
                self.checkpoints.append(row)
            elif kind == "b":
                self.blobs[(row[1], row[2], row[3], row[4])] = row
            elif kind == "w":
                self.writes.setdefault((row[1], row[2], row[3]), []).append(row)
            elif kind == "l":
                self.lineages[(row[1], row[2], row[4])] = row
            elif kind == "p":
                self.chunks.setdefault((row[1], row[2], row[4]), []).append((row[7], row))
        self.checkpoints.sort(key=lambda r: (r[3], r[1], r[2]), reverse=True)
        for chunks in self.chunks.values():
            chunks.sort(key=lambda c: c[0])


def _read_log(rows: _Rows, serde: SerializerProtocol, where: Where, channel: str, ref: LogRef) -> list[Any]:
    t, ns = where.thread_id, where.checkpoint_ns
    lineage_row = rows.lineages.get((t, ns, ref.lineage))
    if lineage_row is None:
        raise where.corrupt(f"log lineage {ref.lineage!r} is missing", channel)
    try:
        lineage = decode_lineage_row(lineage_row)
        with paused_gc():
            chunks = {
                lid: [(first, decode_page_row(row, serde)) for first, row in rows.chunks.get((t, ns, lid), ()) if first < used]
                for lid, used in levels(ref, lineage)
            }
            return assemble_chunks(ref, lineage, chunks)
    except Exception as exc:
        raise where.corrupt(f"cannot rebuild log {ref.lineage!r} ({ref.length} items)", channel, exc) from exc


def _tuple(rows: _Rows, row: Row, serde: SerializerProtocol) -> CheckpointTuple:
    cp = decode_checkpoint_row(row, serde)
    where = cp.where
    t, ns, cid = where
    values: dict[str, Any] = {}  # rebuilt in channel_versions order
    logs: dict[str, LogRef] = {}
    if cp.inline is not None:
        try:
            logs = decode_logs(row[12])
        except Exception as exc:
            raise where.corrupt("cannot decode the checkpoint's log references", exc=exc) from exc
    for channel, version in cp.checkpoint["channel_versions"].items():
        if cp.inline is not None:
            if channel in cp.inline:
                values[channel] = cp.inline[channel]
                continue
            if channel in cp.empty:  # type: ignore[operator]
                continue
            if channel in logs:
                values[channel] = _read_log(rows, serde, where, channel, logs[channel])
                continue
            if channel not in cp.blobs:  # type: ignore[operator]
                raise where.corrupt(f"no value is recorded for version {version!r}", channel)
        blob_row = rows.blobs.get((t, ns, cid, channel))  # type: ignore[arg-type]
        if blob_row is None:
            raise where.corrupt(f"blob for version {version!r} is missing", channel)
        if blob_row[8] == WRITE_REF_TYPE:  # an input {key: [items]} kept as log items
            key, items = _log_run(rows, serde, where, channel, blob_row[1], blob_row[2], blob_row[9])
            values[channel] = {key: items}
            continue
        value = decode_blob_row(blob_row, serde, where)
        if value is EMPTY_TYPE:
            continue
        values[channel] = _read_log(rows, serde, where, channel, value) if isinstance(value, LogRef) else value
    cp.checkpoint["channel_values"] = values
    writes = sorted(rows.writes.get((t, ns, cid), []), key=lambda r: (r[6], r[4], r[7]))  # type: ignore[arg-type]
    return CheckpointTuple(
        config=make_config(t, ns, cid),  # type: ignore[arg-type]
        checkpoint=cp.checkpoint,
        metadata=cp.metadata,
        parent_config=make_config(t, ns, cp.parent_id) if cp.parent_id else None,
        pending_writes=[_write(rows, w, serde) for w in writes],
    )


def _write(rows: _Rows, row: Row, serde: SerializerProtocol) -> PendingWrite:
    """A pending write, rebuilt from the log items it refers to when stored as a reference."""
    if row[8] != WRITE_REF_TYPE:
        return decode_write_row(row, serde)
    where = Where(row[1], row[2], row[3])
    _, items = _log_run(rows, serde, where, row[5], row[1], row[2], row[9], f"pending write of task {row[4]!r}")
    return (row[4], row[5], items)


def _log_run(
    rows: _Rows, serde: SerializerProtocol, where: Where, channel: str, thread_id: str, ns: str, ref: Any,
    what: str = "stored input",
) -> tuple[Any, list[Any]]:
    """(key, items) of a reference ``[lineage, first own item, count(, key)]`` to log items."""
    try:
        lineage, first, count, *key = json.loads(bytes(ref))
        out: list[Any] = []
        for start, chunk in rows.chunks.get((thread_id, ns, lineage), ()):
            if start >= first + count:
                break
            items = decode_page_row(chunk, serde)
            if start + len(items) > first:
                out.extend(items[max(0, first - start) : first + count - start])
        if len(out) != count:
            raise ValueError(f"log lineage {lineage!r} holds {len(out)} of items {first}..{first + count}")
    except Exception as exc:
        raise where.corrupt(f"cannot rebuild {what} from its log", channel, exc) from exc
    return (key[0] if key else None), out


def decode_tuples(rows: Iterable[Row], serde: SerializerProtocol) -> list[CheckpointTuple]:
    """Assemble every checkpoint in the rows of one tuples query, newest first."""
    return list(decode_each(rows, serde))


def decode_each(rows: Iterable[Row], serde: SerializerProtocol) -> Iterator[CheckpointTuple]:
    """Like :func:`decode_tuples`, one checkpoint at a time: a corrupt row raises its
    ``CorruptCheckpointError`` only when it is reached, after the rows before it."""
    indexed = _Rows(rows)
    for row in indexed.checkpoints:
        yield _tuple(indexed, row, serde)


def last_key(rows: Iterable[Row]) -> tuple[int, tuple[str, str, str] | None]:
    """(number of checkpoints, keyset key of the oldest) in the rows of one tuples query,
    known without decoding any of them."""
    keys = [(row[3], row[1], row[2]) for row in rows if row[0] == "c"]
    return len(keys), min(keys) if keys else None


def checkpoint_key(t: CheckpointTuple) -> tuple[str, str, str]:
    """(checkpoint_id, thread_id, checkpoint_ns): the keyset listings page by."""
    conf = t.config["configurable"]
    return conf["checkpoint_id"], conf["thread_id"], conf["checkpoint_ns"]


__all__ = [
    "EMPTY_TYPE",
    "CheckpointRow",
    "Where",
    "checkpoint_key",
    "decode_blob_row",
    "decode_checkpoint_row",
    "decode_each",
    "decode_lineage_row",
    "decode_page_row",
    "decode_tuples",
    "decode_write_row",
    "decode_lineage",
    "decode_logs",
    "encode_compact",
    "Layout",
    "dumps_at",
    "dumps_json",
    "loads_at",
    "encode_chain",
    "encode_checkpoint",
    "encode_filter_value",
    "nul_mismatch",
    "encode_metadata",
    "last_key",
]
