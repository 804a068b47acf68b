"""The compact checkpoint body of the SQL savers (row format 2, schema version 4 on).

A checkpoint row's body (serialized by the saver's serde, so sealed with the row when the
serde encrypts) holds, besides ``v`` and any extra keys:

- ``~n``  channel names, each once: the channels of ``channel_versions`` in order, then any
          other name the rest of the body refers to;
- ``~c``  the version of each of the first ``len(~c)`` names;
- ``~s``  ``versions_seen`` as node -> flat list ``[name index, version, ...]``;
- ``~u``  ``updated_channels`` as name indexes (or None);
- ``~t``  ``ts`` as microseconds since the epoch (``ts`` is kept as text when that would
          not give the same text back);
- ``~i``  small channel values inline, flat ``[name index, value, ...]`` (no blob row);
- ``~e``  name indexes of channels that are empty at their version (no blob row).

Versions made by ``next_version`` (``"0000000042.9f86d081"``) are stored as one integer;
any other version keeps its text (a non-text version is wrapped in a list). Every encoding is
checked to decode to the same value before it is used, so a row always reads back exactly.
Rows of format 1 (no ``~n``) keep their old meaning: the ``channel_versions`` column holds
every version, one blob row per (channel, version).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

FORMAT_KEY = "~n"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_VERSION = re.compile(r"(\d{10})\.([0-9a-f]{8})")
_OWN = ("v", "ts", "channel_versions", "versions_seen", "updated_channels")

# what counts as a small value, stored inline in the checkpoint row
INLINE_TEXT = 256  # characters (str) or bytes of one text or bytes value
INLINE_ITEMS = 32  # elements of all the containers of one value, together
_SCALARS = (type(None), bool, int, float)


def is_small(value: Any) -> bool:
    """True for values kept in the checkpoint row: scalars, short text and bytes, and small
    plain lists, tuples and dicts of those. Decided from the value alone (never its size once
    serialized), so an unchanged channel is classified the same way at every checkpoint."""
    budget = [INLINE_ITEMS]

    def small(v: Any, depth: int) -> bool:
        t = type(v)
        if t in _SCALARS:
            return True
        if t is str or t is bytes:
            return len(v) <= INLINE_TEXT
        if depth >= 3 or t not in (list, tuple, dict):
            return False
        budget[0] -= len(v)
        if budget[0] < 0:
            return False
        if t is dict:
            return all(type(k) is str and len(k) <= INLINE_TEXT and small(x, depth + 1) for k, x in v.items())
        return all(small(x, depth + 1) for x in v)

    return small(value, 0)


def pack_version(version: Any) -> Any:
    if isinstance(version, str):
        m = _VERSION.fullmatch(version)
        if m and int(m.group(1)) < 2**31:
            return (int(m.group(1)) << 32) | int(m.group(2), 16)
        return version
    return [version]


def unpack_version(packed: Any) -> Any:
    if isinstance(packed, int) and not isinstance(packed, bool):
        return f"{packed >> 32:010d}.{packed & 0xFFFFFFFF:08x}"
    if isinstance(packed, list) and len(packed) == 1:
        return packed[0]
    if isinstance(packed, str):
        return packed
    raise ValueError(f"malformed packed version {packed!r}")


def _pack_ts(ts: Any) -> int | None:
    if not isinstance(ts, str):
        return None
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if dt.utcoffset() != timedelta(0):
        return None
    us = (dt - _EPOCH) // _US
    return us if _unpack_ts(us) == ts else None


def _unpack_ts(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat()


class _Names:
    def __init__(self, first: list[str]) -> None:
        self.names = list(first)
        self.index = {n: i for i, n in enumerate(self.names)}

    def __call__(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.names)
            self.names.append(name)
        return i


def encode_body(checkpoint: Any, inline: dict[str, Any], empty: list[str]) -> dict[str, Any]:
    """The compact body of ``checkpoint`` (minus id, values and logs) with ``inline`` values
    and ``empty`` channels; raises ValueError when a version does not pack exactly."""
    versions = dict(checkpoint.get("channel_versions") or {})
    names = _Names(list(versions))
    body: dict[str, Any] = {k: v for k, v in checkpoint.items() if k not in _OWN and k not in _SKIP}
    body["v"] = checkpoint.get("v", 1)
    body["~c"] = [_packed(versions[n]) for n in names.names]
    seen = checkpoint.get("versions_seen") or {}
    body["~s"] = {node: [x for ch, ver in chans.items() for x in (names(ch), _packed(ver))] for node, chans in seen.items()}
    updated = checkpoint.get("updated_channels")
    body["~u"] = None if updated is None else [names(ch) for ch in updated]
    us = _pack_ts(checkpoint.get("ts"))
    if us is None:
        body["ts"] = checkpoint.get("ts")
    else:
        body["~t"] = us
    body["~i"] = [x for ch, value in inline.items() for x in (names(ch), value)]
    body["~e"] = [names(ch) for ch in empty]
    body[FORMAT_KEY] = names.names
    return body


_SKIP = ("channel_values", "channel_logs", "id")


def _packed(version: Any) -> Any:
    packed = pack_version(version)
    if unpack_version(packed) != version or type(unpack_version(packed)) is not type(version):
        return [version]
    return packed


def decode_body(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    """(checkpoint fields, inline values, empty channels) of a compact body; raises on a
    malformed one (the caller names the row)."""
    names = body.pop(FORMAT_KEY)
    packed = body.pop("~c")
    if not isinstance(names, list) or not isinstance(packed, list) or len(packed) > len(names):
        raise ValueError("malformed channel table")
    versions = {names[i]: unpack_version(p) for i, p in enumerate(packed)}
    seen = {}
    for node, flat in body.pop("~s").items():
        seen[node] = {names[flat[i]]: unpack_version(flat[i + 1]) for i in range(0, len(flat), 2)}
    updated = body.pop("~u")
    if "~t" in body:
        body["ts"] = _unpack_ts(body.pop("~t"))
    flat = body.pop("~i")
    inline = {names[flat[i]]: flat[i + 1] for i in range(0, len(flat), 2)}
    empty = {names[i] for i in body.pop("~e")}
    body["channel_versions"] = versions
    body["versions_seen"] = seen
    body["updated_channels"] = None if updated is None else [names[i] for i in updated]
    return body, inline, empty


__all__ = ["FORMAT_KEY", "decode_body", "encode_body", "is_small", "pack_version", "unpack_version"]
