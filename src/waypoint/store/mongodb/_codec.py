"""How a store item is laid out in a MongoDB document, and back.

One document per item::

    {"namespace": ["users", "42"],        # labels, for positional matches (list_namespaces)
     "ns": "users.42",                     # joined text: unique (ns, key) index, prefix ranges
     "ns_sort": "users\\x0042",             # joined with NUL: sorts exactly as the tuple does
     "key": "prefs", "value": {...},
     "created_at": date, "updated_at": date,   # millisecond precision (BSON dates)
     "ttl": 1.5, "expires_at": date,           # only for items with a TTL
     "vectors": [bytes, ...],                  # unit float32 vectors, little-endian
     "texts": [str, ...]}                      # indexed texts (hybrid stores): keyword search

User value keys are stored as given unless MongoDB could read them as something else: a key
that starts with ``"$"`` or :data:`MARK`, contains ``"."`` or NUL, or is empty is stored as
``MARK`` + the key with ``%``, ``.`` and NUL percent-encoded. So no stored field name is ever
an operator or a dotted path, whatever the server version, and values round-trip exactly.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from bson.int64 import Int64

from waypoint._text import value_text_error
from waypoint.errors import ConfigError, CorruptStoreItemError, SerializationError
from waypoint.store._items import Item, SearchItem
from waypoint.store._vectors import unit_rows

MARK = "\uff04"
"""Prefix of an escaped field name (FULLWIDTH DOLLAR SIGN)."""

_INT64 = (-(2**63), 2**63 - 1)
_UNESCAPE = re.compile("%(25|2E|00)")
_UNESCAPED = {"25": "%", "2E": ".", "00": "\x00"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)

ITEM_PROJECTION = {"vectors": 0, "embedding": 0, "ns_prefixes": 0, "texts": 0}
"""Fields a read of whole items leaves on the server."""


def escape_key(key: str) -> str:
    """The stored form of one user field name (identity for ordinary names)."""
    if not key or key[0] in ("$", MARK) or "." in key or "\x00" in key:
        return MARK + key.replace("%", "%25").replace(".", "%2E").replace("\x00", "%00")
    return key


def unescape_key(key: str) -> str:
    """Inverse of :func:`escape_key`."""
    if key.startswith(MARK):
        return _UNESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], key[1:])
    return key


def encode_value(value: Any, where: str) -> Any:
    """A copy of a JSON-like value ready for BSON: escaped keys, tuples as lists.

    Raises SerializationError for non-str dict keys and ints outside 64 bits, naming ``where``.
    """
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise SerializationError(
                    f"{where}: dict key {k!r} is a {type(k).__name__}; MongoDB stores str "
                    "keys only, convert it with str()"
                )
            if not k.isascii() and (error := value_text_error(k, where)):
                raise error
            out[escape_key(k)] = encode_value(v, where)
        return out
    if type(value) is str:
        if not value.isascii() and (error := value_text_error(value, where)):
            raise error
        return value
    if isinstance(value, (list, tuple)):
        return [encode_value(v, where) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT64[0] <= value <= _INT64[1]:
            raise SerializationError(
                f"{where}: int {value} does not fit in 64 bits, the largest integer MongoDB "
                "stores; store it as a str"
            )
    return value


def decode_value(value: Any) -> Any:
    """Inverse of :func:`encode_value` for a value read back from MongoDB."""
    if isinstance(value, dict):
        return {unescape_key(k): decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if type(value) is Int64:  # pymongo's int64 wrapper: hand back a plain int, as stored
        return int(value)
    return value


def ns_text(namespace: Sequence[str]) -> str:
    """The ``ns`` field: labels joined with ``"."`` (labels never contain one)."""
    return ".".join(namespace)


def namespace_fields(namespace: Sequence[str]) -> dict[str, Any]:
    """The three namespace fields of an item document."""
    return {
        "namespace": list(namespace),
        "ns": ns_text(namespace),
        "ns_sort": "\x00".join(namespace),
    }


def prefix_filter(prefix: Sequence[str]) -> dict[str, Any]:
    """Query for items whose namespace starts with ``prefix`` (label-wise), on the ``ns`` index."""
    if not prefix:
        return {}
    text = ns_text(prefix)
    return {"$or": [{"ns": text}, {"ns": {"$gte": text + ".", "$lt": text + "/"}}]}


def live_filter(now: datetime) -> dict[str, Any]:
    """Query for items not expired at ``now`` (items without ``expires_at`` never expire)."""
    return {"expires_at": {"$not": {"$lte": now}}}


def truncate_ms(now: datetime) -> datetime:
    """``now`` at BSON date precision, so timestamps read back equal those written."""
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def stamp_ms(when: datetime) -> int:
    """Integer milliseconds since the epoch (a sortable recency key)."""
    return (when - _EPOCH) // _MS


def encode_vectors(vectors: Sequence[Sequence[float]], dims: int) -> list[bytes]:
    """Unit-normalized float32 little-endian bytes, one per vector."""
    rows = unit_rows(vectors, dims).astype("<f4", copy=False)
    return [row.tobytes() for row in rows]


def max_scores(
    docs: Sequence[Mapping[str, Any]], query: np.ndarray, dims: int
) -> list[float | None]:
    """Per document, the best cosine of its stored ``vectors`` with the unit ``query``."""
    sizes: list[int] = []
    blobs: list[bytes] = []
    for doc in docs:
        stored = doc.get("vectors") or ()
        sizes.append(len(stored))
        for blob in stored:
            if len(blob) != 4 * dims:
                raise ConfigError(
                    f"item {doc.get('ns')!r}/{doc.get('key')!r} has a stored vector of "
                    f"{len(blob) // 4} dimensions but the index has dims={dims}; re-put the "
                    "items after changing the embedding model"
                )
            blobs.append(bytes(blob))
    out: list[float | None] = [None] * len(docs)
    if not blobs:
        return out
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, dims)
    scores = matrix @ query.astype("<f4", copy=False)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    nonempty = [i for i, n in enumerate(sizes) if n]
    best = np.maximum.reduceat(scores, starts[nonempty])
    for slot, value in zip(nonempty, best.tolist(), strict=True):
        out[slot] = value
    return out


def to_item(doc: Mapping[str, Any]) -> Item:
    """An ``Item`` from a stored document (CorruptStoreItemError if it is malformed)."""
    with _corrupt_doc(doc):
        return Item(
            value=decode_value(doc["value"]),
            key=doc["key"],
            namespace=tuple(doc["namespace"]),
            created_at=_when(doc["created_at"]),
            updated_at=_when(doc["updated_at"]),
        )


def to_search_item(doc: Mapping[str, Any]) -> SearchItem:
    """A ``SearchItem`` from a stored document (``score`` set by a ranked search, else None)."""
    with _corrupt_doc(doc):
        return SearchItem(
            tuple(doc["namespace"]),
            doc["key"],
            decode_value(doc["value"]),
            _when(doc["created_at"]),
            _when(doc["updated_at"]),
            doc.get("score"),
        )


def _when(value: Any) -> datetime:
    """A stored timestamp, which BSON gives back as a datetime (anything else: tampered)."""
    if not isinstance(value, datetime):
        raise TypeError(f"timestamp {value!r} is a {type(value).__name__}, not a date")
    return value


@contextmanager
def _corrupt_doc(doc: Mapping[str, Any]) -> Iterator[None]:
    """Turn a malformed document (a tampered date, a missing field) into one named error."""
    try:
        yield
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, CorruptStoreItemError):
            raise
        ns, key = doc.get("namespace"), doc.get("key")
        namespace = tuple(ns) if isinstance(ns, list) else None
        raise CorruptStoreItemError(
            f"the stored item {key!r} in namespace {namespace!r} is corrupt "
            f"({type(exc).__name__}: {exc}); rewrite it with put(...) or delete it",
            namespace=namespace, key=key if isinstance(key, str) else None,
        ) from exc
