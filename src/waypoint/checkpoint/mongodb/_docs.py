"""Document shapes of the MongoDB savers: keys, builders, decoders, metadata keys, indexes.

Every document has a deterministic string ``_id`` (a compact JSON array of its key parts), so
writes are idempotent upserts and a batch of reads is one ``{"_id": {"$in": [...]}}`` query
across any threads. Readable key fields (``thread_id``, ``checkpoint_ns``, ...) sit next to it
and carry the compound unique indexes used by thread-scoped queries and deletes.

Metadata is stored twice: serialized (exact round trip) and as ``metadata_keys``, one canonical
string per top-level key and value (``["step",3]``), under a multikey index. An equality filter
becomes ``{"metadata_keys": {"$all": [...]}}``: indexed, exact for nested dicts whatever their
key order, and immune to operator injection since user values only ever appear inside strings.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING, IndexModel

from waypoint.checkpoint.base import Checkpoint, CheckpointMetadata, copy_checkpoint
from waypoint.checkpoint.log import LOG_TYPE, Lineage, LogRef, decode_chain
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.checkpoint.serde.encrypted import binds_place
from waypoint.errors import CorruptCheckpointError, InvalidFilterError, read_error

EMPTY_TYPE = "empty"
SCHEMA_VERSION = 2
_LONG_KEY = 200  # metadata keys longer than this are stored and queried as a hash

T, N = "thread_id", "checkpoint_ns"


@dataclass(frozen=True)
class Names:
    """Collection names, all sharing one optional prefix."""

    prefix: str = ""

    @property
    def checkpoints(self) -> str:
        return f"{self.prefix}checkpoints"

    @property
    def blobs(self) -> str:
        return f"{self.prefix}checkpoint_blobs"

    @property
    def writes(self) -> str:
        return f"{self.prefix}checkpoint_writes"

    @property
    def lineages(self) -> str:
        return f"{self.prefix}checkpoint_lineages"

    @property
    def pages(self) -> str:
        return f"{self.prefix}checkpoint_pages"

    @property
    def heads(self) -> str:
        return f"{self.prefix}checkpoint_heads"

    @property
    def leases(self) -> str:
        return f"{self.prefix}checkpoint_leases"

    @property
    def migrations(self) -> str:
        return f"{self.prefix}checkpoint_migrations"

    def thread_scoped(self) -> list[str]:
        """Every collection holding thread data, checkpoints (the entry points) first."""
        return [self.heads, self.checkpoints, self.writes, self.blobs, self.lineages, self.pages]


def key(*parts: Any) -> str:
    """The ``_id`` of a document: an injective, compact JSON rendering of its key parts."""
    return json.dumps(parts, ensure_ascii=False, separators=(",", ":"))


# Fields whose values make up each collection's _id, in order (used to re-key copies).
def key_fields(names: Names) -> dict[str, tuple[str, ...]]:
    return {
        names.checkpoints: (T, N, "checkpoint_id"),
        names.blobs: (T, N, "channel", "version"),
        names.writes: (T, N, "checkpoint_id", "task_id", "idx"),
        names.lineages: (T, N, "lineage"),
        names.pages: (T, N, "lineage", "page"),
        names.heads: (T, N),
    }


def indexes(names: Names) -> dict[str, list[IndexModel]]:
    """Schema version 1: the indexes ``setup()`` creates (idempotently)."""

    def ix(fields: list[tuple[str, int]], name: str, **kw: Any) -> IndexModel:
        return IndexModel(fields, name=name, **kw)

    tn = [(T, ASCENDING), (N, ASCENDING)]
    return {
        names.checkpoints: [
            ix([*tn, ("checkpoint_id", DESCENDING)], "wp_thread_ns_id", unique=True),
            ix([*tn, ("metadata_keys", ASCENDING), ("checkpoint_id", DESCENDING)], "wp_thread_metadata"),
            ix([("metadata_keys", ASCENDING), ("checkpoint_id", DESCENDING)], "wp_metadata"),
            ix([("run_id", ASCENDING)], "wp_run", sparse=True),
        ],
        names.blobs: [ix([*tn, ("channel", ASCENDING), ("version", ASCENDING)], "wp_blob", unique=True)],
        names.writes: [
            ix([*tn, ("checkpoint_id", ASCENDING), ("task_id", ASCENDING), ("idx", ASCENDING)], "wp_write", unique=True),
            ix([("checkpoint_key", ASCENDING)], "wp_write_checkpoint"),
        ],
        names.lineages: [ix([*tn, ("lineage", ASCENDING)], "wp_lineage", unique=True)],
        names.pages: [ix([*tn, ("lineage", ASCENDING), ("page", ASCENDING)], "wp_page", unique=True)],
        names.heads: [ix(tn, "wp_head", unique=True)],
    }


def recency_indexes(names: Names) -> dict[str, list[IndexModel]]:
    """Schema version 2: newest first across threads (``list(None, limit=N)``, thread pages)."""
    return {
        names.checkpoints: [IndexModel([("checkpoint_id", DESCENDING), (T, DESCENDING), (N, DESCENDING)], name="wp_recent")],
        names.heads: [IndexModel([(N, ASCENDING), ("checkpoint_id", DESCENDING), (T, DESCENDING)], name="wp_head_recent")],
    }


# --- metadata ------------------------------------------------------------------------------


def _canon(value: Any) -> Any:
    """A JSON-able canonical form: equal values (as ``==`` sees them) give equal forms."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    return {"__repr__": f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"}


def metadata_key(name: str, value: Any) -> str:
    """The indexed string standing for ``metadata[name] == value``."""
    text = json.dumps([name, _canon(value)], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= _LONG_KEY else "#" + hashlib.sha256(text.encode()).hexdigest()


def metadata_filter(filter: Mapping[str, Any] | None) -> list[str]:
    """Validated metadata keys of a ``list(filter=...)``; raises before any query runs."""
    if not filter:
        return []
    if not isinstance(filter, Mapping):
        raise InvalidFilterError(f"filter must be a dict of metadata key -> value, got {type(filter).__name__}")
    out = []
    for name, value in filter.items():
        if not isinstance(name, str) or not name or name.startswith("$") or "." in name or "\x00" in name:
            raise InvalidFilterError(
                f"metadata filter key {name!r} is not allowed: use a top-level metadata key without "
                "a '$' prefix, '.' or NUL (match nested values by passing a dict value)"
            )
        out.append(metadata_key(name, value))
    return out


# --- builders ------------------------------------------------------------------------------


def typed(serde: SerializerProtocol, value: Any, place: tuple[str, ...] | None = None) -> tuple[str, Binary]:
    """``value`` through the serde, sealed to ``place`` when given (only for serializers that
    bind places: see ``EncryptedSerializer``)."""
    ty, data = serde.dumps_typed(value) if place is None else serde.dumps_typed(value, place)  # type: ignore[call-arg]
    return ty, Binary(data)


def untyped(serde: SerializerProtocol, ty: Any, data: Any, place: tuple[str, ...] | None = None) -> Any:
    """Inverse of :func:`typed`."""
    return serde.loads_typed((ty, bytes(data))) if place is None else serde.loads_typed((ty, bytes(data)), place)  # type: ignore[call-arg]


def reseal(serde: Any, coll: str, doc: dict[str, Any], target: str) -> None:
    """Reseal the encrypted values of ``doc`` (a document of kind ``coll``: ``checkpoints``,
    ``blobs``, ``writes`` or ``pages``) from its thread to ``target`` in place, without loading
    them: what ``copy_thread`` does when the serializer binds values to their place."""
    source, ns = doc[T], doc[N]

    def move(kind: str, ty_field: str, data_field: str, *parts: Any, holder: Any = None) -> None:
        holder = doc if holder is None else holder
        ty, data = holder[ty_field], holder[data_field]
        if isinstance(ty, str) and isinstance(data, (bytes, bytearray)):
            tail = tuple(str(p) for p in parts)
            _, sealed = serde.reseal((ty, bytes(data)), (kind, source, ns, *tail), (kind, target, ns, *tail))
            holder[data_field] = Binary(sealed)

    if coll == "checkpoints":
        move("checkpoint", "type", "checkpoint", doc["checkpoint_id"])
        move("metadata", "metadata_type", "metadata", doc["checkpoint_id"])
    elif coll == "blobs" and "value" in doc:
        move("blob", "type", "value", doc["channel"], doc["version"])
    elif coll == "writes":
        move("write", "type", "value", doc["checkpoint_id"], doc["task_id"], doc["idx"])
    elif coll == "pages":
        for i, item in enumerate(doc.get("items") or ()):
            move("item", 0, 1, doc["lineage"], doc["page"], i, holder=item)


def checkpoint_doc(
    serde: SerializerProtocol,
    thread_id: str,
    ns: str,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    parent_id: str | None,
) -> dict[str, Any]:
    row = copy_checkpoint(checkpoint)
    row["channel_values"] = {}
    row.pop("channel_logs", None)
    bound = binds_place(serde)
    cty, cdata = typed(serde, row, ("checkpoint", thread_id, ns, checkpoint["id"]) if bound else None)
    mty, mdata = typed(serde, dict(metadata), ("metadata", thread_id, ns, checkpoint["id"]) if bound else None)
    doc: dict[str, Any] = {
        "_id": key(thread_id, ns, checkpoint["id"]),
        T: thread_id,
        N: ns,
        "checkpoint_id": checkpoint["id"],
        "parent_checkpoint_id": parent_id,
        "ts": checkpoint.get("ts"),
        "type": cty,
        "checkpoint": cdata,
        "metadata_type": mty,
        "metadata": mdata,
        "metadata_keys": [metadata_key(str(k), v) for k, v in metadata.items()],
    }
    if metadata.get("run_id") is not None:
        doc["run_id"] = str(metadata["run_id"])
    return doc


def blob_doc(thread_id: str, ns: str, channel: str, version: Any, **fields: Any) -> dict[str, Any]:
    version = str(version)
    return {"_id": key(thread_id, ns, channel, version), T: thread_id, N: ns, "channel": channel, "version": version, **fields}


def log_blob_fields(ref: LogRef, chain: str) -> dict[str, Any]:
    return {"type": LOG_TYPE, "lineage": ref.lineage, "length": ref.length, "chain": chain}


def lineage_doc(thread_id: str, ns: str, lineage: Lineage) -> dict[str, Any]:
    return {
        "_id": key(thread_id, ns, lineage.id), T: thread_id, N: ns,
        "lineage": lineage.id, "chain": lineage.encode_chain(), "length": lineage.length,
    }


def page_doc(thread_id: str, ns: str, lineage: str, page: int, items: list[list[Any]]) -> dict[str, Any]:
    return {"_id": key(thread_id, ns, lineage, page), T: thread_id, N: ns, "lineage": lineage, "page": page, "items": items}


def write_doc(
    thread_id: str, ns: str, checkpoint_id: str, task_id: str, idx: int, channel: str,
    value: tuple[str, Binary], task_path: str,
) -> dict[str, Any]:
    return {
        "_id": key(thread_id, ns, checkpoint_id, task_id, idx), T: thread_id, N: ns,
        "checkpoint_id": checkpoint_id, "checkpoint_key": key(thread_id, ns, checkpoint_id),
        "task_id": task_id, "idx": idx, "channel": channel, "type": value[0], "value": value[1],
        "task_path": task_path,
    }


# --- decoders ------------------------------------------------------------------------------


def decode_checkpoint(serde: SerializerProtocol, doc: Mapping[str, Any]) -> tuple[Checkpoint, CheckpointMetadata]:
    """The checkpoint (without values) and metadata of a checkpoint document."""
    where = {"thread_id": doc.get(T), "checkpoint_ns": doc.get(N), "checkpoint_id": doc.get("checkpoint_id")}
    place = (doc.get(T), doc.get(N), doc.get("checkpoint_id")) if binds_place(serde) else None
    try:
        row = untyped(serde, doc["type"], doc["checkpoint"], place and ("checkpoint", *place))
        metadata = untyped(serde, doc["metadata_type"], doc["metadata"], place and ("metadata", *place))
        if not isinstance(row, dict) or not isinstance(row.get("channel_versions"), dict):
            raise ValueError("not a checkpoint")
        return copy_checkpoint(row), dict(metadata)  # type: ignore[return-value]
    except Exception as exc:
        raise read_error(f"cannot decode stored checkpoint: {exc}", exc, **where) from exc


def log_of(doc: Mapping[str, Any]) -> tuple[LogRef, Lineage]:
    """The reference and chain a log blob document holds (ValueError when malformed)."""
    length = doc.get("length")
    if not isinstance(doc.get("lineage"), str) or not isinstance(length, int) or length < 0:
        raise ValueError("malformed log reference")
    chain = decode_chain(str(doc.get("chain")))
    if chain[-1][0] != doc["lineage"]:
        raise ValueError("log chain does not end with its lineage")
    return LogRef(doc["lineage"], length), Lineage(chain, length)


def lineage_of(doc: Mapping[str, Any]) -> Lineage:
    return Lineage(decode_chain(str(doc["chain"])), int(doc["length"]))
