"""Opt-in Atlas Vector Search: the ``$vectorSearch`` pipeline and the index definition.

Atlas indexes one vector per document (not vectors inside arrays), so in Atlas mode each item
also stores ``embedding`` (its first vector, as a float32 BSON vector) and ``ns_prefixes`` (the
joined text of every label-wise prefix of its namespace, so a namespace prefix is one equality
pre-filter). The pipeline:

1. ``$vectorSearch`` with a ``filter`` pre-filter built only from conditions Atlas evaluates as a
   superset of ours: the namespace prefix and ``$eq``/``$in``/range conditions on non-null
   scalars whose path is listed in ``vector_index["filters"]`` (and so indexed as ``filter``);
2. ``$match`` with the complete, exact query (namespace, expiry, every filter condition), for
   what Atlas cannot pre-filter and to undo Atlas' array-element matching;
3. the score (Atlas' cosine ``(1 + cos) / 2``, mapped back to the cosine) and a projection.

Paging happens after the ``$match``: ``$vectorSearch`` is asked for ``overfetch`` times the
requested ``offset + limit`` so filtered-out candidates rarely leave a page short. Not run in
this repository's tests (no Atlas here); the builder is unit-tested.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Sequence

from waypoint.errors import ConfigError
from waypoint.store._filters import FilterCondition, parse_filter_key
from waypoint.store.mongodb._codec import ns_text
from waypoint.store.mongodb._filters import bson_scalar, field_path

MAX_CANDIDATES = 10_000
"""Atlas' upper bound for ``numCandidates``."""

_PREFILTER_OPS = frozenset({"$eq", "$in", "$gt", "$gte", "$lt", "$lte"})


class AtlasIndex(NamedTuple):
    """A normalized ``vector_index`` config."""

    name: str
    filters: frozenset[tuple[str, ...]]
    candidates_factor: int
    overfetch: int
    exact: bool


def normalize_vector_index(config: Mapping[str, Any] | None, has_index: bool) -> AtlasIndex | None:
    """Validate ``vector_index={"name": ..., "filters": [...], ...}``; None turns Atlas off.

    Keys: ``name`` (the Atlas index, default ``"vector_index"``), ``filters`` (value paths
    indexed as ``filter`` fields), ``num_candidates_factor`` (default 10), ``overfetch``
    (default 2), ``exact`` (Atlas ENN instead of ANN, default False).
    """
    if config is None:
        return None
    if not has_index:
        raise ConfigError("vector_index= needs index={'dims': ..., 'embed': ...} too")
    if not isinstance(config, Mapping):
        raise ConfigError(f"vector_index must be a dict, got {config!r}")
    allowed = {"name", "filters", "num_candidates_factor", "overfetch", "exact"}
    unknown = set(config) - allowed
    if unknown:
        raise ConfigError(
            f"vector_index has unknown keys {sorted(unknown)!r}; allowed: {sorted(allowed)}"
        )
    name = config.get("name", "vector_index")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"vector_index name={name!r}: use the Atlas index name, a non-empty str")
    filters = config.get("filters") or []
    if isinstance(filters, str) or not isinstance(filters, Sequence):
        raise ConfigError(
            f"vector_index filters={filters!r}: use a list of value paths like ['kind']"
        )
    paths = set()
    for key in filters:
        path = parse_filter_key(key)
        field_path(path)  # rejects unsafe segments
        paths.add(path)
    numbers = {}
    for key, default in (("num_candidates_factor", 10), ("overfetch", 2)):
        n = config.get(key, default)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"vector_index {key}={n!r}: use a positive int")
        numbers[key] = n
    return AtlasIndex(
        name, frozenset(paths), numbers["num_candidates_factor"], numbers["overfetch"],
        bool(config.get("exact", False)),
    )


def index_definition(atlas: AtlasIndex, dims: int) -> dict[str, Any]:
    """The ``vectorSearch`` index definition the pipeline expects (for ``create_search_index``)."""
    fields: list[dict[str, Any]] = [
        {"type": "vector", "path": "embedding", "numDimensions": dims, "similarity": "cosine"},
        {"type": "filter", "path": "ns_prefixes"},
    ]
    fields += [{"type": "filter", "path": field_path(p)} for p in sorted(atlas.filters)]
    return {"name": atlas.name, "type": "vectorSearch", "definition": {"fields": fields}}


def ns_prefixes(namespace: Sequence[str]) -> list[str]:
    """Joined text of every label-wise prefix: ``("a", "b")`` -> ``["a", "a.b"]``."""
    return [ns_text(namespace[:n]) for n in range(1, len(namespace) + 1)]


def _prefilter(condition: FilterCondition) -> dict[str, Any] | None:
    """Atlas pre-filter for one condition, if Atlas' matching is a superset of ours."""
    if condition.op not in _PREFILTER_OPS:
        return None
    values = condition.value if condition.op == "$in" else [condition.value]
    if not values or not all(bson_scalar(v) and v is not None for v in values):
        return None
    return {field_path(condition.path): {condition.op: condition.value}}


def vector_search_pipeline(
    atlas: AtlasIndex,
    query_vector: Sequence[float],
    namespace_prefix: Sequence[str],
    conditions: tuple[FilterCondition, ...],
    match: Mapping[str, Any],
    want: int,
) -> list[dict[str, Any]]:
    """The aggregation pipeline of an Atlas semantic search.

    ``match`` is the complete exact query (namespace, expiry, filter clauses); ``want`` is
    ``offset + limit``. Results carry ``score`` (cosine); paging is the caller's.
    """
    prefilters = [{"ns_prefixes": ns_text(namespace_prefix)}] if namespace_prefix else []
    prefilters += [
        f for c in conditions if c.path in atlas.filters and (f := _prefilter(c)) is not None
    ]
    limit = max(1, min(want * atlas.overfetch, MAX_CANDIDATES))
    stage: dict[str, Any] = {
        "index": atlas.name,
        "path": "embedding",
        "queryVector": [float(x) for x in query_vector],
        "limit": limit,
    }
    if atlas.exact:
        stage["exact"] = True
    else:
        stage["numCandidates"] = min(max(limit * atlas.candidates_factor, limit), MAX_CANDIDATES)
    if prefilters:
        stage["filter"] = prefilters[0] if len(prefilters) == 1 else {"$and": prefilters}
    return [
        {"$vectorSearch": stage},
        {"$match": dict(match)},
        {"$set": {"score": {"$subtract": [{"$multiply": [2, {"$meta": "vectorSearchScore"}]}, 1]}}},
        {"$project": {"vectors": 0, "embedding": 0, "ns_prefixes": 0}},
    ]
