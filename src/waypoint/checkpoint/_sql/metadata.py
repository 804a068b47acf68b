"""What the SQL savers store beside a checkpoint: canonical JSON, sealed values, metadata.

Metadata is stored as canonical JSON (sorted keys, compact) so it can be filtered in SQL. When
that JSON would not give the exact value back (tuples, non-string keys, datetimes, NUL
characters, floats in exponent form), the exact value is stored beside it through the serde
and the JSON keeps a best-effort projection that still serves filters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from waypoint.checkpoint.serde.base import SerializerProtocol


def dumps_at(serde: SerializerProtocol, value: Any, place: tuple[str, ...] | None) -> tuple[str, bytes]:
    """``serde.dumps_typed(value)``, sealed to ``place`` when the serializer binds places
    (``EncryptedSerializer``); callers build ``place`` only for such serializers."""
    return serde.dumps_typed(value) if place is None else serde.dumps_typed(value, place)  # type: ignore[call-arg]


def dumps_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _project(value: Any) -> Any:
    """A JSON-safe stand-in for ``value`` (used for filtering, never returned when lossy)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {_project(str(k)): _project(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_project(v) for v in value]
    return repr(value)


def _exact(value: Any) -> bool:
    """True when the canonical JSON of ``value`` loads back to an identical value."""
    if isinstance(value, str):
        return "\x00" not in value
    if value is None or isinstance(value, (bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value) and "e" not in repr(value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and "\x00" not in k and _exact(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_exact(v) for v in value)
    return False


def encode_metadata(
    serde: SerializerProtocol, metadata: Mapping[str, Any], place: tuple[str, ...] | None = None
) -> tuple[str, str | None, bytes | None, str | None]:
    """(json, exact type, exact bytes, run_id column) for a checkpoint's metadata."""
    md = dict(metadata)
    text = dumps_json(_project(md))
    type_: str | None = None
    data: bytes | None = None
    if not _exact(md):
        type_, data = dumps_at(serde, md, place)
    run_id = md.get("run_id")
    return text, type_, data, None if run_id is None else str(run_id)


def nul_mismatch(metadata: Mapping[str, Any], filter: Mapping[str, Any]) -> bool:
    """True when SQL matched ``filter`` only because the stored metadata's JSON projection
    dropped NUL characters (``"ali\\x00ce"`` projects to ``"alice"``): such a row is checked
    again on its exact value. Filters themselves never hold NUL (``list_scope`` refuses it)."""
    for key in filter:
        if key not in metadata:  # the projection's key was a stored key with NUL dropped
            return True
        if _has_nul(metadata[key]) and metadata[key] != filter[key]:
            return True
    return False


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def encode_filter_value(value: Any) -> str:
    """The canonical JSON a filter value is compared as (same projection as metadata)."""
    return dumps_json(_project(value))


__all__ = ["dumps_at", "dumps_json", "encode_filter_value", "encode_metadata", "nul_mismatch"]
