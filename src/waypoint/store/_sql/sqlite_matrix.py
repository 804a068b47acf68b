"""Exact vector search on SQLite from an in-process copy of the vector table.

The vectors stay in ``waypoint_store_vectors`` as unit float32 blobs (the source of truth, shared
by every connection and process). Each store keeps a :class:`MatrixCache`: the same vectors in
one ``(capacity, dims)`` float32 matrix, with each row's vector id (``id INTEGER PRIMARY KEY
AUTOINCREMENT``, so an id is never reused and a row's vector never changes) and namespace.

A search (:func:`rank`):

1. *refresh*: fetch the vector rows with ``id`` above the highest cached one (one indexed seek;
   nothing when nothing was written). Rows deleted since (by this or any connection) are found
   lazily in step 3 and dropped; after as many appends as the cache held at its last full load
   it is reloaded whole, so dead rows never outnumber live ones for long.
2. *score*: the namespace prefix selects cached rows in numpy; one matrix-vector product scores
   them (cosine similarity of unit vectors).
3. *check*: in score order, chunks of candidate ids go to SQL, which answers which are still
   stored and pass expiry and the filter (``post`` filtering). Each next chunk is sized by the
   pass rate so far, until ``offset + limit`` distinct items pass and no unchecked candidate could tie the last one, so
   the result is exact, not approximate. When the checked candidates exceed
   ``PREFILTER_FRACTION`` of the scored rows (a selective filter), SQL lists the ids passing
   the filter instead and only those are scored (``pre`` filtering), also exact.

Ties are ordered as every other strategy: score, then newest, then namespace, then key. Memory:
``4 * dims`` bytes per stored vector (1.5 MB per 1,000 vectors of 384 dims).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from waypoint._ops import Op
from waypoint.store._sql.dialect import COLUMNS, HAS_VECTORS, Fetch, StoreDialect, dump_json
from waypoint.store._sql.vectors import plain
from waypoint.store._vectors import unit_vector

Row = Sequence[Any]
Item = tuple[str, str]

FIRST_CHUNK = 64
PREFILTER_FRACTION = 0.125

_NEW_ROWS = (
    "SELECT id, prefix, embedding FROM waypoint_store_vectors WHERE id > ? ORDER BY id LIMIT ?"
)
PAGE = 8192
_CHECK = (
    "SELECT v.id, s.prefix, s.key, s.value, s.created_at, s.updated_at, s.ttl_minutes, "
    "CASE WHEN {where} THEN 1 ELSE 0 END "
    "FROM waypoint_store_vectors AS v JOIN waypoint_store AS s "
    "ON s.prefix = v.prefix AND s.key = v.key "
    "WHERE v.id IN (SELECT value FROM json_each(?))"
)
_PASSING = (
    "SELECT v.id, s.prefix, s.key, s.updated_at FROM waypoint_store AS s "
    "JOIN waypoint_store_vectors AS v ON v.prefix = s.prefix AND v.key = s.key WHERE {where}"
)


class MatrixCache:
    """The store's vectors as a float32 matrix, their ids, namespaces and liveness."""

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.reset()

    def reset(self) -> None:
        """Forget everything; the next search reloads the whole table."""
        self.size = 0
        self.matrix = np.zeros((0, self.dims), dtype=np.float32)
        self.ids = np.zeros(0, dtype=np.int64)
        self.codes = np.zeros(0, dtype=np.int32)
        self.alive = np.zeros(0, dtype=bool)
        self.prefixes: dict[str, int] = {}
        self.last_id = 0
        self.loaded = 0  # rows at the last full load
        self.appended = 0  # rows appended since
        self.dead = 0

    def _grow(self, need: int) -> None:
        capacity = max(need, 2 * len(self.ids), 64)
        matrix = np.zeros((capacity, self.dims), dtype=np.float32)
        matrix[: self.size] = self.matrix[: self.size]
        self.matrix = matrix
        for name, dtype in (("ids", np.int64), ("codes", np.int32), ("alive", bool)):
            grown = np.zeros(capacity, dtype=dtype)
            grown[: self.size] = getattr(self, name)[: self.size]
            setattr(self, name, grown)

    def append(self, rows: Sequence[Row]) -> None:
        """Add ``(id, prefix, embedding)`` rows, ids ascending and above every cached id."""
        if not rows:
            return
        start, end = self.size, self.size + len(rows)
        if end > len(self.ids):
            self._grow(end)
        blob = b"".join(row[2] for row in rows)
        self.matrix[start:end] = np.frombuffer(blob, dtype="<f4").reshape(len(rows), self.dims)
        self.ids[start:end] = [row[0] for row in rows]
        codes = self.prefixes
        self.codes[start:end] = [codes.setdefault(row[1], len(codes)) for row in rows]
        self.alive[start:end] = True
        self.size = end
        self.last_id = int(rows[-1][0])
        self.appended += len(rows)

    def kill(self, ids: Sequence[int]) -> None:
        """Mark vector ids that are no longer stored."""
        pos = self.positions(ids)
        newly = int(self.alive[pos].sum())
        self.alive[pos] = False
        self.dead += newly

    def needs_reload(self) -> bool:
        return self.size == 0 or self.appended > max(self.loaded, 1024) or self.dead > self.size // 2

    def candidates(self, prefix: str | None) -> np.ndarray | None:
        """Positions of live rows under ``prefix`` (None: every row, all alive)."""
        n = self.size
        mask: np.ndarray | None = None
        if prefix is not None:
            below = prefix + "."
            wanted = [c for p, c in self.prefixes.items() if p == prefix or p.startswith(below)]
            if len(wanted) < len(self.prefixes):
                mask = np.isin(self.codes[:n], np.asarray(wanted, dtype=np.int32))
        if self.dead:
            mask = self.alive[:n] if mask is None else mask & self.alive[:n]
        return None if mask is None else np.flatnonzero(mask)

    def positions(self, ids: Sequence[int]) -> np.ndarray:
        """Row positions of cached vector ids (ids not cached are left out)."""
        wanted = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.ids[: self.size], wanted)
        ok = pos < self.size
        pos, wanted = pos[ok], wanted[ok]
        return pos[self.ids[pos] == wanted]


def refresh(cache: MatrixCache) -> Op[None]:
    """Bring the cache up to date with the table (new rows; a full reload when due), reading
    ``PAGE`` rows at a time so a reload never holds the whole table as Python objects."""
    reload = cache.needs_reload()
    if reload:
        cache.reset()
    while True:
        rows = yield Fetch(_NEW_ROWS, [cache.last_id, PAGE])
        cache.append(rows)
        if len(rows) < PAGE:
            break
    if reload:
        cache.loaded, cache.appended = cache.size, 0


def rank(
    d: StoreDialect, cache: MatrixCache, where: str, params: list[Any], prefix: str | None,
    query: Sequence[float], limit: int, offset: int,
) -> Op[list[Row]]:
    """The page ``[offset, offset + limit)`` of items under ``where`` ranked by similarity."""
    yield from refresh(cache)
    wanted = offset + limit
    if limit <= 0:
        return []
    q = unit_vector(query, len(query))
    pos = cache.candidates(prefix)
    if pos is None:
        pos = np.arange(cache.size)
        scores = _scores(cache.matrix[: cache.size], q)
    else:
        scores = _scores(cache.matrix[pos], q)
    found: dict[Item, tuple[float, Any, Row | None]] = {}  # score, updated_at, row if read
    exhausted = yield from _post_filter(d, cache, where, params, pos, scores, q, wanted, found)
    if exhausted is None:  # too many rejections: let SQL list what passes, score only those
        found.clear()
        exhausted = yield from _pre_filter(d, cache, where, params, q, found)
    order = sorted(found, key=lambda item: (-found[item][0], -found[item][1],
                                            item[0].replace(".", "\x01"), item[1]))
    page = order[offset:wanted]
    by_item = {item: found[item][2] for item in page if found[item][2] is not None}
    missing = [item for item in page if item not in by_item]  # pre-filtered: rows not read yet
    if missing:
        cond, more = d.get_many(missing)
        fetched = yield Fetch(d.q(f"SELECT {COLUMNS} FROM waypoint_store AS s WHERE {cond}"), more)
        by_item.update(((row[0], row[1]), row) for row in fetched)
    out: list[Row] = [(*by_item[item], found[item][0]) for item in page if item in by_item]
    if exhausted and wanted > len(order):  # the page reaches past the items with vectors
        rest_offset = max(0, offset - len(order))
        rest_limit = wanted - max(offset, len(order))
        out.extend((yield from plain(d, f"{where} AND NOT {HAS_VECTORS}", params, rest_limit,
                                     rest_offset)))
    return out


def _scores(matrix: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``matrix @ q`` on one thread (``einsum``): a BLAS product spreads over threads that,
    on a busy machine, made a 10,000-row search 10-20x slower than this."""
    return np.einsum("ij,j->i", matrix, q)


def _precise(cache: MatrixCache, pos: np.ndarray, q: np.ndarray) -> list[float]:
    """Scores of cached rows computed in float64, then rounded to float32: the same vector
    always gets the same score (a float32 matrix product may differ in the last bit between
    rows), so equal vectors tie and fall to the newest-first order."""
    q64 = q.astype(np.float64)
    out: list[float] = []
    for start in range(0, len(pos), 8192):  # bounded float64 copies (a pre-filter may pass many)
        rows = cache.matrix[pos[start : start + 8192]].astype(np.float64)
        out.extend(np.einsum("ij,j->i", rows, q64).astype(np.float32).tolist())
    return out


def _post_filter(
    d: StoreDialect, cache: MatrixCache, where: str, params: list[Any], pos: np.ndarray,
    scores: np.ndarray, q: np.ndarray, wanted: int,
    found: dict[Item, tuple[float, Any, Row | None]],
) -> Op[bool | None]:
    """Check candidates best first until ``wanted`` items pass; True when every candidate was
    checked, False when the page is complete, None when pre-filtering should take over."""
    total = len(pos)
    sql = d.q(_CHECK.format(where=where))
    done = 0
    chunk = max(FIRST_CHUNK, 4 * wanted)
    while done < total:
        if done > max(PREFILTER_FRACTION * total, FIRST_CHUNK):
            return None
        end = min(total, done + chunk)
        if end >= total:
            order = np.argsort(-scores, kind="stable")
        else:  # the best ``end`` and the next one, which bounds every unchecked candidate
            part = np.argpartition(-scores, end)[: end + 1]
            order = part[np.argsort(-scores[part], kind="stable")]
        rows_pos = pos[order[done:end]]
        batch = cache.ids[rows_pos].tolist()
        rows = yield Fetch(sql, [*params, dump_json(batch)])
        seen = {row[0] for row in rows}
        gone = [i for i in batch if i not in seen]
        if gone:
            cache.kill(gone)
        score_of = dict(zip(batch, _precise(cache, rows_pos, q), strict=True))
        for row in rows:
            if row[7]:
                item, score = (row[1], row[2]), score_of[row[0]]
                if item not in found or found[item][0] < score:
                    found[item] = (score, row[5], row[1:7])
        done = end
        if len(found) < wanted:  # size the next chunk by the pass rate so far (x1.5)
            rate = max(len(found), 1) / done
            chunk = max(FIRST_CHUNK, int(1.5 * (wanted - len(found)) / rate))
        if len(found) >= wanted and done < total:
            kth = sorted((f[0] for f in found.values()), reverse=True)[wanted - 1]
            # No unchecked candidate can reach the page (margin: float32 product rounding).
            if float(scores[order[done]]) + 1e-5 < kth:
                return False
    return True


def _pre_filter(
    d: StoreDialect, cache: MatrixCache, where: str, params: list[Any], q: np.ndarray,
    found: dict[Item, tuple[float, Any, Row | None]],
) -> Op[bool]:
    rows = yield Fetch(d.q(_PASSING.format(where=where)), params)
    if rows:
        pos = cache.positions([row[0] for row in rows])
        by_id = {row[0]: row for row in rows}
        for vid, score in zip(cache.ids[pos].tolist(), _precise(cache, pos, q), strict=True):
            _, prefix, key, updated = by_id[vid]
            item = (prefix, key)
            if item not in found or found[item][0] < score:
                found[item] = (score, updated, None)
    return True


__all__ = ["MatrixCache", "rank", "refresh"]
