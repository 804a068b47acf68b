"""The in-memory saver's compact records: packed checkpoint rows, and lineages with their
decode cache.

A checkpoint row (the checkpoint minus its channel values, plus its metadata) is kept as one
``marshal`` blob: about a third of the Python dicts it replaces (a 10-node graph's
``versions_seen`` alone is a dozen small dicts per checkpoint), and unpacking it builds fresh
dicts, so no read can alias the store. A row marshal cannot hold exactly (a metadata value of
a custom type, an enum, a ``str`` subclass) is kept as deep copies instead.

A lineage keeps its serialized items in one shared Python list and a decode cache
(``Decoded``) of every item's decoded *state* as marshal bytes (see ``waypoint.checkpoint._fresh``
for kinds and states), so a read rebuilds fresh objects with a few C calls per item. A full
chunk whose items are all plain builtins is kept as the marshal of the items themselves and read
back with one ``marshal.loads``: no Python step per item.
"""

from __future__ import annotations

import marshal
from copy import deepcopy
from typing import Any

from waypoint.checkpoint.base import Checkpoint, CheckpointMetadata, copy_checkpoint
from waypoint.checkpoint._fresh import MARSHAL_VERSION, PLAIN, RAW, paused_gc, rebuild, state_of
from waypoint.checkpoint.log import Lineage

Typed = tuple[str, bytes]
# Format 3 shares a repeated object within one blob (a version string in ``channel_versions``
# and again in ``versions_seen``); the rows it unpacks hold only immutable shared objects
# unless the checkpoint handed to ``put`` shared a dict between two places itself.
_ROW_VERSION = 3


def pack_row(checkpoint: Checkpoint, metadata: CheckpointMetadata) -> Any:
    """The stored form of a checkpoint's row and metadata (channel values are stored apart)."""
    try:
        return marshal.dumps(
            (
                checkpoint["v"],
                checkpoint["id"],
                checkpoint["ts"],
                checkpoint["channel_versions"],
                checkpoint["versions_seen"],
                checkpoint.get("updated_channels"),
                metadata,
            ),
            _ROW_VERSION,
        )
    except ValueError:  # a type marshal does not round-trip exactly: keep deep copies
        row = copy_checkpoint(checkpoint)
        row["channel_values"] = {}
        row.pop("channel_logs", None)
        return (deepcopy(row), deepcopy(metadata))


def unpack_row(packed: Any) -> tuple[Checkpoint, CheckpointMetadata]:
    """A fresh checkpoint (empty ``channel_values``) and fresh metadata from a packed row."""
    if type(packed) is bytes:
        v, id_, ts, versions, seen, updated, metadata = marshal.loads(packed)
        return (
            Checkpoint(
                v=v, id=id_, ts=ts, channel_values={}, channel_versions=versions, versions_seen=seen,
                updated_channels=updated,
            ),
            metadata,
        )
    row, metadata = packed
    return deepcopy(row), deepcopy(metadata)


def row_versions(packed: Any) -> dict[str, Any]:
    """The ``channel_versions`` of a packed row."""
    if type(packed) is bytes:
        return marshal.loads(packed)[3]
    return packed[0]["channel_versions"]


def row_metadata(packed: Any) -> CheckpointMetadata:
    """The metadata of a packed row (fresh when unpacked; read-only use otherwise)."""
    if type(packed) is bytes:
        return marshal.loads(packed)[6]
    return packed[1]


class MemLineage:
    __slots__ = ("row", "items", "decoded")

    def __init__(self, row: Lineage, items: list[Typed], decoded: "Decoded | None" = None) -> None:
        self.row = row
        self.items = items  # serialized items, append-only: items[i] never changes once written
        self.decoded = decoded if decoded is not None else Decoded()


CHUNK = 64  # items per marshal blob once a chunk is full
# Plain chunks use format 4 (short ASCII strings, dict keys stored once per chunk): it only
# shares objects referenced more than once when dumped, which in a plain chunk are the
# interpreter's interned strings and small constants, all immutable.
_PLAIN_VERSION = 4


class Decoded:
    """The decode cache of one lineage: kinds and states of its first ``len(kinds)`` items.
    States are marshal bytes: full chunks of ``CHUNK`` items (``plain[i]``: chunk ``i`` is the
    marshal of its items themselves), then one blob per item."""

    __slots__ = ("kinds", "chunks", "plain", "tail")

    def __init__(self) -> None:
        self.kinds: list[Any] = []
        self.chunks: list[bytes] = []
        self.plain: list[bool] = []
        self.tail: list[bytes] = []

    def copy(self) -> "Decoded":
        other = Decoded()
        other.kinds, other.chunks = list(self.kinds), list(self.chunks)
        other.plain, other.tail = list(self.plain), list(self.tail)
        return other

    def fill(self, items: list[Typed], upto: int, loads: Any) -> None:
        """Decode ``items[len(kinds):upto]`` once and remember their states."""
        dumps, version = marshal.dumps, MARSHAL_VERSION
        for i in range(len(self.kinds), upto):
            kind, state = state_of(loads(items[i]), i)
            try:
                blob = dumps(state, version)
            except ValueError:  # e.g. nested deeper than marshal allows
                kind, blob = RAW, dumps([i, None, None], version)
            self.kinds.append(kind)
            self.tail.append(blob)
            if len(self.tail) == CHUNK:
                flat: list[Any] = []
                for b in self.tail:
                    flat.extend(marshal.loads(b))
                plain = all(k is PLAIN for k in self.kinds[-CHUNK:])
                if plain:
                    values = flat[::3]
                    del flat  # each value is now referenced once: marshal shares none of them
                    self.chunks.append(dumps(values, _PLAIN_VERSION))
                else:
                    self.chunks.append(dumps(flat, version))
                self.plain.append(plain)
                self.tail = []

    def read(self, items: list[Typed], upto: int, loads: Any, out: list[Any]) -> None:
        """Append fresh copies of the first ``upto`` items to ``out``."""
        if len(self.kinds) < upto:
            self.fill(items, upto, loads)
        with paused_gc():
            self._read(items, upto, loads, out)

    def _read(self, items: list[Typed], upto: int, loads: Any, out: list[Any]) -> None:
        full, rest = divmod(upto, CHUNK)
        mloads, kinds, plain = marshal.loads, self.kinds, self.plain

        def raw(index: int) -> Any:
            return loads(items[index])

        for c, blob in enumerate(self.chunks[:full]):
            if plain[c]:
                out.extend(mloads(blob))
            else:
                rebuild(kinds[c * CHUNK : (c + 1) * CHUNK], mloads(blob), out, raw)
        if not rest:
            return
        if full < len(self.chunks):
            if plain[full]:
                out.extend(mloads(self.chunks[full])[:rest])
            else:
                rebuild(kinds[full * CHUNK : full * CHUNK + rest], mloads(self.chunks[full])[: 3 * rest], out, raw)
            return
        states: list[Any] = []
        for blob in self.tail[:rest]:
            states.extend(mloads(blob))
        rebuild(kinds[full * CHUNK : full * CHUNK + rest], states, out, raw)
