"""Item logs: how every saver stores append-style channels in O(payload) bytes.

A *lineage* is an append-only sequence of items for one thread and namespace, stored in pages
of ``PAGE_SIZE`` items. A channel version whose value is a list is stored as a tiny reference
``LogRef(lineage, length)``: its value is the first ``length`` items of the lineage's full
sequence.

Backends store pages in one of two layouts:

- *page mode* (``plan_write(layout="pages")``, MongoDB): one record per (lineage, page
  number); an append rewrites the last partial page whole.
- *chunk mode* (``layout="chunks"``, the SQL savers): one row per (lineage, first own item); an
  append inserts a row holding only the new items, and the append that fills a page writes
  the whole page at the page's first item and drops that page's other rows. Nothing is
  rewritten per turn, so PostgreSQL does not leave a dead TOAST copy of a growing page behind
  at every step, and the rows of a lineage never overlap.

The in-memory saver keeps whole Python lists and plans with ``layout=None`` (no pages).

A lineage may start from a prefix of another one (after a fork, a replace-by-id or a removal).
Each lineage row carries its whole *chain*: ``((root_id, 0), (child_id, start_1), ...,
(self_id, start_k))`` where ``start_i`` is the index in the full sequence at which lineage i's
own items begin. Starts strictly increase along the chain, so one lineage row tells a reader
every page it needs, without recursion. Chains are capped at ``MAX_DEPTH``; past that a value is
written as a fresh lineage (rare: only after many non-append edits).

This module is pure: it plans writes and assembles reads. Backends store lineages and pages
however suits them and execute the plans.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from waypoint.checkpoint.base import LogHint

PAGE_SIZE = 64
MAX_DEPTH = 8
LOG_TYPE = "log"  # the blob type tag of a channel version stored as a LogRef


class LogRef(NamedTuple):
    """A channel version's value: the first ``length`` items of lineage ``lineage``."""

    lineage: str
    length: int

    def encode(self) -> bytes:
        return f"{self.lineage}:{self.length}".encode()

    @classmethod
    def decode(cls, data: bytes | str) -> "LogRef":
        text = data.decode() if isinstance(data, (bytes, bytearray, memoryview)) else data
        lineage, _, length = str(text).rpartition(":")
        if not lineage or not length.isdigit():
            raise ValueError(f"malformed log reference {text!r}")
        return cls(lineage, int(length))


Chain = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Lineage:
    """One lineage row: its chain (ending with itself) and how many items it holds in all."""

    chain: Chain
    length: int

    @property
    def id(self) -> str:
        return self.chain[-1][0]

    @property
    def start(self) -> int:
        return self.chain[-1][1]

    @property
    def depth(self) -> int:
        return len(self.chain) - 1

    def encode_chain(self) -> str:
        return encode_chain(self.chain)


def encode_chain(chain: Chain) -> str:
    return ";".join(f"{lid}:{start}" for lid, start in chain)


def decode_chain(text: str) -> Chain:
    out = []
    for part in text.split(";"):
        lid, _, start = part.rpartition(":")
        if not lid or not start.isdigit():
            raise ValueError(f"malformed lineage chain {text!r}")
        out.append((lid, int(start)))
    return tuple(out)


def new_lineage_id() -> str:
    return os.urandom(8).hex()


class PageWrite(NamedTuple):
    """Upsert page ``page`` of lineage ``lineage`` with ``items`` (its whole content)."""

    lineage: str
    page: int
    items: list[Any]


class ChunkWrite(NamedTuple):
    """Chunk mode: upsert the row of ``lineage`` whose first own item is ``first``."""

    lineage: str
    first: int
    items: list[Any]


class ChunkTrim(NamedTuple):
    """Chunk mode: delete the rows of ``lineage`` with ``lo < first < hi`` (a page that a
    ``ChunkWrite`` at ``lo`` now holds whole)."""

    lineage: str
    lo: int
    hi: int


@dataclass
class LogWrite:
    """What a saver must write for one channel version stored as a log.

    Exactly one of ``new_lineage`` (insert) or ``extend`` (update length from ``old`` to
    ``new``, ideally conditional on the stored length still being ``old``) may be set; both
    are None when the value adds nothing. ``pages`` (page mode) and ``chunks`` (chunk mode)
    are upserts; ``trims`` are deletes to run with them.
    """

    ref: LogRef
    new_lineage: Lineage | None = None
    extend: tuple[str, int, int] | None = None
    pages: list[PageWrite] = field(default_factory=list)
    chunks: list[ChunkWrite] = field(default_factory=list)
    trims: list[ChunkTrim] = field(default_factory=list)


def _pages_for(lineage_id: str, start: int, value: Sequence[Any], own_from: int) -> list[PageWrite]:
    """Pages covering own items ``own_from..`` of a lineage whose own items begin at
    ``start`` of ``value``; the first page is rewritten whole from ``value``."""
    own_len = len(value) - start
    pages = []
    first = own_from // PAGE_SIZE
    last = (own_len - 1) // PAGE_SIZE
    for page in range(first, last + 1):
        lo = start + page * PAGE_SIZE
        pages.append(PageWrite(lineage_id, page, list(value[lo : min(lo + PAGE_SIZE, len(value))])))
    return pages


def _chunks_for(
    lineage_id: str, start: int, value: Sequence[Any], own_from: int, plan: LogWrite
) -> LogWrite:
    """Chunk mode: rows for own items ``own_from..`` (split at page boundaries); a page that
    becomes full is written whole at its first item and its other rows are trimmed."""
    own_len = len(value) - start
    lo = own_from
    while lo < own_len:
        page_lo = lo - lo % PAGE_SIZE
        page_hi = page_lo + PAGE_SIZE
        hi = min(own_len, page_hi)
        if hi == page_hi:
            plan.chunks.append(ChunkWrite(lineage_id, page_lo, list(value[start + page_lo : start + hi])))
            if lo > page_lo:
                plan.trims.append(ChunkTrim(lineage_id, page_lo, page_hi))
        else:
            plan.chunks.append(ChunkWrite(lineage_id, lo, list(value[start + lo : start + hi])))
        lo = hi
    return plan


def plan_write(
    value: Sequence[Any],
    hint: LogHint | None,
    base_ref: LogRef | None,
    base_lineage: Lineage | None,
    *,
    new_id: Callable[[], str] = new_lineage_id,
    layout: Literal["pages", "chunks"] | None = "pages",
) -> LogWrite:
    """Plan how to store ``value`` given the stored reference of the version it came from.

    ``base_ref``/``base_lineage`` describe ``hint.base_version`` as stored (None when there is
    none or it is not a log). The fast path extends the base lineage in place; a fork or edit
    starts a child lineage sharing the unchanged prefix; anything else writes a fresh lineage.
    ``layout`` selects the storage layout (see the module docstring).
    """
    plan = _plan_refs(value, hint, base_ref, base_lineage, new_id)
    ref, lineage = plan.ref, plan.new_lineage
    if lineage is not None:
        own_from, start = 0, lineage.start
    elif plan.extend is not None:
        own_from, start = plan.extend[1] - base_lineage.start, base_lineage.start  # type: ignore[union-attr]
    else:
        return plan
    if layout == "chunks":
        return _chunks_for(ref.lineage, start, value, own_from, plan)
    if layout == "pages":
        plan.pages = _pages_for(ref.lineage, start, value, own_from)
    return plan


def _plan_refs(
    value: Sequence[Any],
    hint: LogHint | None,
    base_ref: LogRef | None,
    base_lineage: Lineage | None,
    new_id: Callable[[], str],
) -> LogWrite:
    """The reference and lineage change for ``value``, without any page or chunk."""
    n = len(value)
    if hint is not None and base_ref is not None and base_lineage is not None:
        prefix = min(hint.prefix_len, base_ref.length, n)
        # 1. pure append to the head of a lineage nobody else has extended
        if prefix == base_ref.length == base_lineage.length and base_ref.lineage == base_lineage.id:
            if n == prefix:
                return LogWrite(LogRef(base_lineage.id, n))
            return LogWrite(LogRef(base_lineage.id, n), extend=(base_lineage.id, prefix, n))
        if prefix > 0:
            # deepest chain level whose own items are used by the shared prefix
            chain = base_lineage.chain
            level = max(i for i, (_, start) in enumerate(chain) if start < prefix)
            kept = chain[: level + 1]
            if n == prefix:  # pure truncation: point into the existing chain
                return LogWrite(LogRef(kept[-1][0], n))
            if len(kept) <= MAX_DEPTH:
                lid = new_id()
                lineage = Lineage(kept + ((lid, prefix),), n)
                return LogWrite(LogRef(lid, n), new_lineage=lineage)
    lid = new_id()
    lineage = Lineage(((lid, 0),), n)
    return LogWrite(LogRef(lid, n), new_lineage=lineage)


def pages_needed(ref: LogRef, lineage: Lineage) -> list[tuple[str, int]]:
    """Every (lineage id, page) a reader must fetch to rebuild ``ref``'s value.

    ``lineage`` is the row of ``ref.lineage``; the ref's length may be shorter than the
    lineage (an older version) but never shorter than the lineage's start.
    """
    out: list[tuple[str, int]] = []
    for lid, own_len in levels(ref, lineage):
        out.extend((lid, p) for p in range((own_len + PAGE_SIZE - 1) // PAGE_SIZE))
    return out


def levels(ref: LogRef, lineage: Lineage) -> list[tuple[str, int]]:
    """(lineage id, own items used) per chain level, for the first ``ref.length`` items:
    the value is the concatenation of each level's first own items."""
    chain = lineage.chain
    out = []
    for i, (lid, start) in enumerate(chain):
        end = chain[i + 1][1] if i + 1 < len(chain) else ref.length
        end = min(end, ref.length)
        out.append((lid, max(0, end - start)))
        if end >= ref.length:
            break
    return out


def assemble(
    ref: LogRef,
    lineage: Lineage,
    pages: Mapping[tuple[str, int], Sequence[Any]],
) -> list[Any]:
    """Rebuild the value of ``ref`` from fetched pages; raises KeyError/ValueError naming the
    missing page or a short page, never returns a partial list."""
    out: list[Any] = []
    for lid, own_len in levels(ref, lineage):
        remaining = own_len
        page = 0
        while remaining > 0:
            items = pages.get((lid, page))
            if items is None:
                raise KeyError(f"log page {page} of lineage {lid!r} is missing")
            take = min(PAGE_SIZE, remaining)
            if len(items) < take:
                raise ValueError(
                    f"log page {page} of lineage {lid!r} holds {len(items)} items, {take} needed"
                )
            out.extend(items[:take])
            remaining -= take
            page += 1
    if len(out) != ref.length:
        raise ValueError(f"log {ref.lineage!r} rebuilt {len(out)} items, {ref.length} expected")
    return out


def assemble_chunks(
    ref: LogRef,
    lineage: Lineage,
    chunks: Mapping[str, Sequence[tuple[int, Sequence[Any]]]],
) -> list[Any]:
    """Chunk mode: rebuild the value of ``ref`` from each level's rows, given as
    ``(first own item, items)`` sorted by first item. Raises ValueError naming the lineage on
    a gap, an overlap or a short log, never returns a partial list."""
    out: list[Any] = []
    for lid, own_len in levels(ref, lineage):
        have = 0
        for first, items in chunks.get(lid, ()):
            if first >= own_len:
                break
            if first != have:
                raise ValueError(
                    f"log chunks of lineage {lid!r} are not contiguous: item {have} expected, "
                    f"a row starts at {first}"
                )
            take = items if first + len(items) <= own_len else items[: own_len - first]
            out.extend(take)
            have = first + len(items)
        if have < own_len:
            raise ValueError(f"log lineage {lid!r} holds {have} items, {own_len} needed")
    if len(out) != ref.length:
        raise ValueError(f"log {ref.lineage!r} rebuilt {len(out)} items, {ref.length} expected")
    return out


def live_lineages(lineages: Sequence[Lineage]) -> set[str]:
    """Ids that must survive pruning so every given lineage stays readable."""
    return {lid for lineage in lineages for lid, _ in lineage.chain}
