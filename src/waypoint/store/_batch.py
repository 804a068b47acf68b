"""Backend-agnostic preparation of a ``batch``: validation and batched embedding.

Every backend's ``batch``/``abatch`` starts the same way::

    plan = plan_batch(ops, index_spec)          # validate, compile filters, collect texts
    vectors = embed_plan(plan, index_spec)      # sync face: one embed call for all puts
    vectors = await aembed_plan(plan, index_spec)   # async face
    ... apply plan.ops in order, using plan.filters[i] and vectors ...

so validation reaches ops passed to ``batch`` directly, all puts of a batch are embedded in
one ``embed_documents`` call, and each distinct search query in one ``embed_query`` call,
before any storage I/O (and outside any lock or transaction). Embedding never happens on
search for stored items.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterable, Mapping, NamedTuple, TypeVar

from waypoint.store._embed import IndexSpec, Vector, validate_fields
from waypoint.store._filters import FilterCondition, compile_filter
from waypoint.store._items import GetOp, ListNamespacesOp, Op, PutOp, SearchOp
from waypoint.store._namespaces import (
    validate_key,
    validate_match_path,
    validate_namespace,
    validate_namespace_prefix,
)
from waypoint.store._ttl import validate_ttl


class BatchPlan(NamedTuple):
    """A validated batch.

    ``ops``: the ops in order; ``filters``: compiled filter per search-op index;
    ``texts``/``owners``: the documents to embed and, for each, ``(put-op index, field path)``;
    ``indexed``: indexes of puts whose vectors must be replaced (possibly by none);
    ``queries``: search-op index -> query text (only when the store has an index).
    """

    ops: list[Op]
    filters: dict[int, tuple[FilterCondition, ...]]
    texts: list[str]
    owners: list[tuple[int, str]]
    indexed: frozenset[int]
    queries: dict[int, str]


class BatchVectors(NamedTuple):
    """Embeddings for a plan: put index -> ``[(field path, vector)]`` for every put in
    ``plan.indexed`` (empty list: drop old vectors), search index -> query vector."""

    documents: dict[int, list[tuple[str, Vector]]]
    queries: dict[int, Vector]


def _check_page(op: Any) -> None:
    for name in ("limit", "offset"):
        v = getattr(op, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name}={v!r}: use a non-negative int")


def _check_put(op: PutOp) -> None:
    validate_namespace(op.namespace)
    validate_key(op.key)
    if op.value is not None and not isinstance(op.value, Mapping):
        raise ValueError(
            f"PutOp value for key {op.key!r} must be a dict (or None to delete), "
            f"got {type(op.value).__name__}"
        )
    if op.index is not None and op.index is not False:
        validate_fields(op.index, "put index")
    validate_ttl(op.ttl)


def _check_list(op: ListNamespacesOp) -> None:
    for cond in op.match_conditions or ():
        if getattr(cond, "match_type", None) not in ("prefix", "suffix"):
            raise ValueError(f"match condition {cond!r}: match_type is 'prefix' or 'suffix'")
        validate_match_path(cond.path)
    depth = op.max_depth
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 1):
        raise ValueError(f"max_depth={depth!r}: use a positive int or None")
    _check_page(op)


OpT = TypeVar("OpT", bound=Op)


def validate_op(op: OpT) -> OpT:
    """Check one op's arguments (namespaces, key, value, filter, paging, paths) and return it.

    Raises InvalidNamespaceError, InvalidFilterError, ConfigError (bad field paths) or
    ValueError (keys, values, TTLs, paging) naming the bad value.
    """
    if isinstance(op, GetOp):
        validate_namespace(op.namespace, write=False)
        validate_key(op.key)
    elif isinstance(op, PutOp):
        _check_put(op)
    elif isinstance(op, SearchOp):
        validate_namespace_prefix(op.namespace_prefix)
        compile_filter(op.filter)
        _check_page(op)
        if op.query is not None and not isinstance(op.query, str):
            raise ValueError(f"query={op.query!r}: a search query is a str")
    elif isinstance(op, ListNamespacesOp):
        _check_list(op)
    else:
        raise ValueError(f"unknown store op {op!r}; use GetOp, PutOp, SearchOp or ListNamespacesOp")
    return op


def plan_batch(ops: Iterable[Op], index: IndexSpec | None) -> BatchPlan:
    """Validate ops and collect what must be embedded; raises before anything is applied."""
    ops = [validate_op(op) for op in ops]
    filters: dict[int, tuple[FilterCondition, ...]] = {}
    texts: list[str] = []
    owners: list[tuple[int, str]] = []
    indexed: set[int] = set()
    queries: dict[int, str] = {}
    for i, op in enumerate(ops):
        if isinstance(op, PutOp) and index is not None and op.value is not None:
            indexed.add(i)
            for field, text in index.texts(op.value, index.fields_for_put(op.index)):
                texts.append(text)
                owners.append((i, field))
        elif isinstance(op, SearchOp):
            filters[i] = compile_filter(op.filter)
            if index is not None and op.query:
                queries[i] = op.query
    return BatchPlan(ops, filters, texts, owners, frozenset(indexed), queries)


def _assemble(
    plan: BatchPlan, docs: list[Vector], distinct: list[str], qvecs: list[Vector]
) -> BatchVectors:
    documents: dict[int, list[tuple[str, Vector]]] = {i: [] for i in plan.indexed}
    for (i, field), vector in zip(plan.owners, docs, strict=True):
        documents[i].append((field, vector))
    by_text = dict(zip(distinct, qvecs, strict=True))
    return BatchVectors(documents, {i: by_text[q] for i, q in plan.queries.items()})


def embed_plan(plan: BatchPlan, index: IndexSpec | None) -> BatchVectors:
    """Embed a plan's documents (one call) and queries (one call per distinct query)."""
    if index is None:
        return BatchVectors({}, {})
    docs: list[Vector] = []
    if plan.texts:
        raw = index.embedder.embed_documents(plan.texts)
        docs = index.check(raw, len(plan.texts), "documents")
    distinct = list(dict.fromkeys(plan.queries.values()))
    qvecs = [index.check([index.embedder.embed_query(q)], 1, "query")[0] for q in distinct]
    return _assemble(plan, docs, distinct, qvecs)


async def aembed_plan(plan: BatchPlan, index: IndexSpec | None) -> BatchVectors:
    """Async twin of :func:`embed_plan`; documents and queries are embedded concurrently."""
    if index is None:
        return BatchVectors({}, {})
    distinct = list(dict.fromkeys(plan.queries.values()))

    async def documents() -> list[Vector]:
        if not plan.texts:
            return []
        raw = await index.embedder.aembed_documents(plan.texts)
        return index.check(raw, len(plan.texts), "documents")

    async def query(q: str) -> Vector:
        return index.check([await index.embedder.aembed_query(q)], 1, "query")[0]

    docs, qvecs = await asyncio.gather(documents(), asyncio.gather(*map(query, distinct)))
    return _assemble(plan, docs, distinct, list(qvecs))
