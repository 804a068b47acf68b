"""Ranking a search: plain (recency), and the three ways of ranking by a query vector.

Every way applies the namespace prefix, expiry and filter conditions first (the same WHERE
clause), so a filter never empties a top-k that has matches. Rows come back as
``(prefix, key, value, created_at, updated_at, ttl_minutes, score)`` in the contract's order:
items with vectors by score (highest first), then items without vectors, each group newest
first, ties by namespace then key.

- ``"sql"``: the dialect's correlated score expression ranks in one statement (sqlite-vec,
  pgvector exact), or, where the dialect has a ``joined_score`` (sqlite-vec), a join of items
  with their vectors, deduplicated per item. Exact.
- ``"matrix"`` (SQLite): score an in-memory copy of the vectors, check the best candidates'
  expiry and filter in SQL (``sqlite_matrix``). Exact.
- ``"numpy"``: fetch the candidates' unit float32 vectors, score them with one matrix-vector
  product, then fetch the page's rows (and, past the scored items, unscored ones). Exact, and
  ordered exactly as ``"sql"``.
- ``"ann"`` (pgvector): up to ``exact_threshold`` stored vectors the dialect's exact top-N
  scan ranks the candidates (``"sql"`` when items without vectors reach the page); above it the
  approximate index with the dialect's search settings (e.g. ``hnsw.ef_search``, iterative
  scans), and the exact scan again when that answer is short or the dialect distrusts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from waypoint._ops import Op
from waypoint.store._sql.dialect import COLUMNS, HAS_VECTORS, Fetch, StoreDialect

Row = Sequence[Any]

_RANKED = (
    "SELECT {columns}, s.score FROM (SELECT s.*, {score} AS score FROM waypoint_store AS s "
    "WHERE {where}) AS s ORDER BY s.score IS NULL, s.score DESC, s.updated_at DESC, "
    "{ns_order}, s.key LIMIT ? OFFSET ?"
)


def _statement(d: StoreDialect, where: str, score: str) -> str:
    return d.q(_RANKED.format(columns=COLUMNS, score=score, where=where,
                              ns_order=d.ns_order("s.prefix")))


_RECENT = (
    "SELECT {columns}, CAST(NULL AS REAL) FROM {table} WHERE {where} "
    "ORDER BY s.updated_at DESC, {ns_order}, s.key LIMIT ? OFFSET ?"
)


def plain(
    d: StoreDialect, where: str, params: list[Any], limit: int, offset: int,
    table: str | None = None,
) -> Op[list[Row]]:
    """Newest first, ties by namespace then key; score NULL. ``table``: the FROM clause
    (aliased ``s``) when a dialect lists through an index on ``updated_at`` (SQLite)."""
    if table is not None:
        sql = d.q(_RECENT.format(columns=COLUMNS, table=table, where=where,
                                 ns_order=d.ns_order("s.prefix")))
        return (yield Fetch(sql, [*params, limit, offset]))
    rows = yield Fetch(_statement(d, where, "CAST(NULL AS REAL)"), [*params, limit, offset])
    return rows


def rank(
    d: StoreDialect, where: str, params: list[Any], query: Sequence[float], limit: int,
    offset: int, prefix: str | None = None,
) -> Op[list[Row]]:
    """Rank by similarity to ``query`` with the dialect's strategy (``prefix``: the search's
    namespace prefix as text, which ``"matrix"`` applies in memory before scoring)."""
    if d.vector_strategy == "matrix":
        from waypoint.store._sql.sqlite_matrix import rank as matrix_rank

        return (yield from matrix_rank(d, d.matrix, where, params, prefix, query, limit, offset))  # type: ignore[attr-defined]
    if d.vector_strategy == "numpy":
        return (yield from _numpy(d, where, params, query, limit, offset))
    joined = d.joined_score(query) if d.vector_strategy == "sql" else None
    if joined is not None:
        return (yield from _joined(d, where, params, joined, limit, offset))
    if d.vector_strategy == "ann" and limit > 0:
        rows = yield from _ann(d, where, params, query, limit, offset)
        if rows is not None:
            return rows
    return (yield from _exact(d, where, params, query, limit, offset))


def _exact(
    d: StoreDialect, where: str, params: list[Any], query: Sequence[float], limit: int,
    offset: int,
) -> Op[list[Row]]:
    score, score_params = d.score(query)
    rows = yield Fetch(_statement(d, where, score), [*score_params, *params, limit, offset])
    return rows


_JOINED = (
    "SELECT {columns}, {score} AS score FROM waypoint_store AS s "
    "JOIN waypoint_store_vectors AS v ON v.prefix = s.prefix AND v.key = s.key WHERE {where} "
    "ORDER BY score DESC, s.updated_at DESC, {ns_order}, s.key LIMIT ?"
)


def _joined(
    d: StoreDialect, where: str, params: list[Any], score: tuple[str, list[Any]], limit: int,
    offset: int,
) -> Op[list[Row]]:
    """``"sql"`` ranking over a join of items with their vectors instead of a subquery per
    item: rows come best first, one per vector, so an item's first row has its best score.
    The fetch grows until it holds ``offset + limit`` distinct items or every row; items
    without vectors follow as in :func:`plain`."""
    sql = d.q(_JOINED.format(columns=COLUMNS, score=score[0], where=where,
                             ns_order=d.ns_order("s.prefix")))
    wanted = offset + limit
    fetch = max(wanted, 1)
    while True:
        rows = yield Fetch(sql, [*score[1], *params, fetch])
        best: dict[tuple[str, str], Row] = {}
        for row in rows:
            best.setdefault((row[0], row[1]), row)
        if len(best) >= wanted or len(rows) < fetch:
            break
        fetch *= 4
    scored = list(best.values())
    out = scored[offset:wanted]
    if wanted > len(scored):  # the page reaches past the items with vectors
        rest_offset = max(0, offset - len(scored))
        rest_limit = wanted - max(offset, len(scored))
        out.extend((yield from plain(d, f"{where} AND NOT {HAS_VECTORS}", params, rest_limit,
                                     rest_offset)))
    return out


def _numpy(
    d: StoreDialect, where: str, params: list[Any], query: Sequence[float], limit: int,
    offset: int,
) -> Op[list[Row]]:
    sql = (
        "SELECT s.prefix, s.key, s.updated_at, v.embedding FROM waypoint_store AS s "
        "JOIN waypoint_store_vectors AS v ON v.prefix = s.prefix AND v.key = s.key "
        f"WHERE {where}"
    )
    candidates = yield Fetch(d.q(sql), params)
    best: dict[tuple[str, str], tuple[float, Any]] = {}
    if candidates:
        matrix = d.decode_vectors([c[3] for c in candidates])  # type: ignore[attr-defined]
        scores = (matrix @ d.unit_query(query)).tolist()  # type: ignore[attr-defined]
        for (prefix, key, updated, _), score in zip(candidates, scores, strict=True):
            seen = best.get((prefix, key))
            if seen is None or score > seen[0]:
                best[(prefix, key)] = (score, updated)
    order = sorted(best, key=lambda item: (item[0].replace(".", "\x01"), item[1]))
    order.sort(key=lambda item: best[item][1], reverse=True)
    order.sort(key=lambda item: best[item][0], reverse=True)
    page = order[offset : offset + limit]
    out: list[Row] = []
    if page:
        cond, more = d.get_many(page)
        fetched = yield Fetch(d.q(f"SELECT {COLUMNS} FROM waypoint_store AS s WHERE {cond}"), more)
        by_item = {(row[0], row[1]): row for row in fetched}
        out = [(*by_item[item], best[item][0]) for item in page if item in by_item]
    end = offset + limit
    if end > len(order):
        rest_offset = max(0, offset - len(order))
        rest_limit = end - max(offset, len(order))
        rows = yield from plain(d, f"{where} AND NOT {HAS_VECTORS}", params, rest_limit, rest_offset)
        out.extend(rows)
    return out


def _ann(
    d: StoreDialect, where: str, params: list[Any], query: Sequence[float], limit: int,
    offset: int,
) -> Op[list[Row] | None]:
    """Top ``offset + limit`` items: exactly (a scan) while the vector table holds at most
    ``exact_threshold`` vectors, else through the index, falling back to the exact scan when
    the index's answer comes back short (a filter rarer than the scan reached) or the dialect
    does not trust it (and straight to the scan while it mostly distrusts the index); None when the ``"sql"`` statement should answer (fewer items with
    vectors than the page, so items without come into it)."""
    wanted = offset + limit
    stored = d.known_vector_count()  # type: ignore[attr-defined]
    if stored is None:
        [(stored,)] = yield Fetch(*d.vector_count())  # type: ignore[attr-defined]
        d.remember_vector_count(stored)  # type: ignore[attr-defined]
    exact = stored <= d.exact_threshold or d.skips_index()  # type: ignore[attr-defined]
    fetch = max(2 * wanted, 40)
    while True:
        if not exact:
            for request in d.ann_settings(wanted):  # type: ignore[attr-defined]
                yield request
        sql, sql_params = d.ann_query(where, params, query, fetch, exact)  # type: ignore[attr-defined]
        rows = yield Fetch(sql, sql_params)
        if not exact:
            if len(rows) >= wanted and d.trusts(rows, wanted, stored):  # type: ignore[attr-defined]
                return [row[:7] for row in rows[offset:wanted]]
            exact = True  # short or untrusted: rank the candidates exactly
            continue
        if len(rows) >= wanted:
            return [row[:7] for row in rows[offset:wanted]]
        if rows[0][7] < fetch if rows else True:  # every candidate ranked, short of the page
            return None
        fetch *= 4


__all__ = ["plain", "rank"]
