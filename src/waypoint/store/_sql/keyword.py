"""Keyword and hybrid ranking of a SQL store search (``mode="keyword"`` / ``"hybrid"``).

Written once over two dialect hooks: ``keyword_query(where, params, terms, limit, offset)``
gives the statement ranking items under ``where`` by the backend's own keyword relevance
(SQLite: FTS5 ``-bm25()``), rows shaped like every other ranking (``COLUMNS`` + score), and
``keyword_rows`` says whether the store keeps a keyword index. Hybrid mode takes the top
``candidates(limit, offset)`` of the keyword ranking and of the vector ranking (items with
vectors only), both after the prefix, expiry and filter, fuses them with reciprocal rank
fusion (``store._hybrid.rrf_fuse``, keyword ranking first) and cuts the page; the score is
the fused score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from waypoint._ops import Op
from waypoint.store._hybrid import candidates, rrf_fuse, tokenize
from waypoint.store._sql import vectors as ranking
from waypoint.store._sql.dialect import Fetch, StoreDialect

Row = Sequence[Any]


def keyword(
    d: StoreDialect, where: str, params: list[Any], text: str, limit: int, offset: int,
) -> Op[list[Row]]:
    """Items containing any of ``text``'s terms, most relevant first (none: no terms)."""
    terms = list(dict.fromkeys(tokenize(text)))
    if not terms or limit <= 0:
        return []
    sql, more = d.keyword_query(where, params, terms, limit, offset)  # type: ignore[attr-defined]
    return (yield Fetch(sql, more))


def hybrid(
    d: StoreDialect, where: str, params: list[Any], text: str, query: Sequence[float] | None,
    limit: int, offset: int, prefix: str | None,
) -> Op[list[Row]]:
    """Reciprocal rank fusion of the keyword and the vector rankings, page cut after."""
    if limit <= 0:
        return []
    n = candidates(limit, offset)
    by_item: dict[tuple[str, str], Row] = {}
    rankings = []
    found = yield from keyword(d, where, params, text, n, 0)
    rankings.append([(row[0], row[1]) for row in found])
    by_item.update(((row[0], row[1]), row) for row in found)
    if query is not None:
        scored = yield from ranking.rank(d, where, params, query, n, 0, prefix)
        scored = [row for row in scored if row[6] is not None]  # items without vectors: unranked
        rankings.append([(row[0], row[1]) for row in scored])
        for row in scored:
            by_item.setdefault((row[0], row[1]), row)
    fused = rrf_fuse(rankings)[offset : offset + limit]
    return [(*by_item[item][:6], score) for item, score in fused]


__all__ = ["hybrid", "keyword"]
