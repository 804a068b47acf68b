"""Backend-agnostic preparation of a ``batch``: validation and batched embedding.

Every backend's ``batch``/``abatch`` starts the same way::

    plan = plan_batch(ops, index_spec, keyword=...)  # validate, compile filters, collect texts
    vectors = embed_plan(plan, index_spec)      # sync face: one embed call for all puts
    vectors = await aembed_plan(plan, index_spec)   # async face
    ... apply plan.ops in order, using plan.filters[i] and vectors ...

so validation reaches ops passed to ``batch`` directly, all puts of a batch are embedded in
one ``embed_documents`` call, and each distinct search query in one ``embed_query`` call,
before any storage I/O (and outside any lock or transaction). Embedding never happens on
search for stored items.

Validation runs once per op: ``BaseStore``'s conveniences build their ops with
:func:`checked` (so a bad argument raises before ``batch`` is called), and ``plan_batch``
validates only the ops that are not marked that way.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterable, Mapping, NamedTuple, TypeVar

from waypoint.store._embed import IndexSpec, Vector, validate_fields
from waypoint.store._filters import FilterCondition, compile_filter
from waypoint.store._hybrid import KEYWORD_MODES, check_mode, parse_mode
from waypoint.store._items import GetOp, ListNamespacesOp, Op, PutOp, SearchOp
from waypoint.store._namespaces import _VALID as _VALID_NAMESPACES  # namespaces seen valid
from waypoint.store._namespaces import (
    RESERVED_LABEL,
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
    ``queries``: search-op index -> query text to embed (only when the store has an index
    and the search ranks by vectors); ``modes``: search-op index -> ``"vector"``,
    ``"keyword"`` or ``"hybrid"`` for every search that ranks by its query (mode None with an
    index and a query is ``"vector"``; absent: an unranked listing).
    """

    ops: list[Op]
    filters: dict[int, tuple[FilterCondition, ...]]
    texts: list[str]
    owners: list[tuple[int, str]]
    indexed: frozenset[int]
    queries: dict[int, str]
    modes: dict[int, str]


class BatchVectors(NamedTuple):
    """Embeddings for a plan: put index -> ``[(field path, vector)]`` for every put in
    ``plan.indexed`` (empty list: drop old vectors; with ``arrays=True`` a vector may be a
    float32 numpy row, with ``block=True`` it is one), search index -> query vector."""

    documents: dict[int, list[tuple[str, Vector]]]
    queries: dict[int, Vector]


def _check_page(op: Any) -> None:
    for name in ("limit", "offset"):
        v = getattr(op, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name}={v!r}: use a non-negative int")


def _known_key_and_namespace(namespace: Any, key: Any) -> bool:
    """Whether an op's address needs no further checks: an ASCII key without NUL, in a
    namespace whose labels passed before (the common case, checked without calls)."""
    try:
        return bool(type(key) is str and key and key.isascii() and "\x00" not in key
                    and type(namespace) is tuple and namespace in _VALID_NAMESPACES)
    except TypeError:  # an unhashable label: validation names it
        return False


def _check_put(op: PutOp) -> None:
    namespace = op.namespace
    if not _known_key_and_namespace(namespace, op.key) or namespace[0] == RESERVED_LABEL:
        validate_namespace(namespace)
        validate_key(op.key)
    value = op.value
    if value is not None and type(value) is not dict and not isinstance(value, Mapping):
        raise ValueError(
            f"PutOp value for key {op.key!r} must be a dict (or None to delete), "
            f"got {type(op.value).__name__}"
        )
    if op.index is not None and op.index is not False:
        validate_fields(op.index, "put index")
    if op.ttl is not None:
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


def _check_get(op: GetOp) -> None:
    validate_namespace(op.namespace, write=False)
    validate_key(op.key)


def _check_search(op: SearchOp) -> None:
    validate_namespace_prefix(op.namespace_prefix)
    compile_filter(op.filter)
    _check_page(op)
    if op.query is not None and not isinstance(op.query, str):
        raise ValueError(f"query={op.query!r}: a search query is a str")
    check_mode(op.mode)
    if op.mode is not None and not op.query:
        raise ValueError(f"search mode={op.mode!r} ranks by a query: pass query='...' too")


_CHECKS: dict[type, Callable[[Any], None]] = {
    GetOp: _check_get, PutOp: _check_put, SearchOp: _check_search, ListNamespacesOp: _check_list
}


def validate_op(op: OpT) -> OpT:
    """Check one op's arguments (namespaces, key, value, filter, paging, paths) and return it.

    Raises InvalidNamespaceError, InvalidFilterError, ConfigError (bad field paths) or
    ValueError (keys, values, TTLs, paging) naming the bad value.
    """
    check = _CHECKS.get(type(op))  # the plain op types; subclasses below
    if check is not None:
        check(op)
        return op
    for cls, check in _CHECKS.items():
        if isinstance(op, cls):
            check(op)
            return op
    raise ValueError(f"unknown store op {op!r}; use GetOp, PutOp, SearchOp or ListNamespacesOp")


def _checked_type(base: type[OpT]) -> type[OpT]:
    """A private subclass of op type ``base`` marking ops that :func:`checked` validated.

    It equals, prints, copies and pickles as ``base``; ``_replace``/``_make`` give a plain
    ``base`` (new field values are unchecked).
    """

    def __repr__(self: Any) -> str:
        names = base._fields  # type: ignore[attr-defined]
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(names, self))
        return f"{base.__name__}({fields})"

    def __reduce__(self: Any) -> tuple[Any, ...]:
        return base, tuple(self)

    def _make(cls: Any, iterable: Iterable[Any]) -> Any:
        return base._make(iterable)  # type: ignore[attr-defined]

    namespace = {"__slots__": (), "__repr__": __repr__, "__reduce__": __reduce__,
                 "_make": classmethod(_make), "__module__": base.__module__}
    return type(f"Checked{base.__name__}", (base,), namespace)  # type: ignore[return-value]


_CHECKED: dict[type, type] = {cls: _checked_type(cls) for cls in _CHECKS}
_CHECKED_TYPES = frozenset(_CHECKED.values())


_CHECKED_GET = _CHECKED[GetOp]
_new_tuple = tuple.__new__


def checked_get(namespace: Any, key: Any, refresh_ttl: bool) -> GetOp:
    """``checked(GetOp, namespace, key, refresh_ttl)`` on the hottest path there is (``get``):
    an ASCII key without NUL in a namespace seen valid before passes without further calls,
    and the tuple is built without the NamedTuple constructor's Python frame."""
    if not _known_key_and_namespace(namespace, key):
        validate_namespace(namespace, write=False)
        validate_key(key)
    op: GetOp = _new_tuple(_CHECKED_GET, (namespace, key, refresh_ttl))
    return op


def checked_type(cls: type[OpT]) -> type[OpT]:
    """The marked subclass :func:`checked` builds for op type ``cls`` (for backends' fast
    paths: an op of exactly this type was validated)."""
    return _CHECKED[cls]


def checked(cls: type[OpT], *fields: Any) -> OpT:
    """``cls(*fields)`` validated (see :func:`validate_op`) and marked so :func:`plan_batch`
    does not check it again; ``BaseStore``'s conveniences build their ops through this."""
    op = _CHECKED[cls](*fields)
    _CHECKS[cls](op)
    return op  # type: ignore[no-any-return]


MAX_PAGE = 2**53
"""Limits and offsets above this count as this (no store holds that many items): databases
take 64-bit integers only, and ``limit=sys.maxsize`` ("everything") must still work."""


def _capped(op: Any) -> Any:
    if op.limit > MAX_PAGE or op.offset > MAX_PAGE:
        return op._replace(limit=min(op.limit, MAX_PAGE), offset=min(op.offset, MAX_PAGE))
    return op


_NO_FILTER: tuple[FilterCondition, ...] = ()
_NONE: frozenset[int] = frozenset()


def _search_mode(op: SearchOp, index: IndexSpec | None, keyword: bool) -> str | None:
    """The ranking a search uses (see ``BatchPlan.modes``); raises ValueError for a mode the
    store cannot serve."""
    mode = op.mode
    if mode is None:
        return "vector" if index is not None and op.query else None
    if mode in KEYWORD_MODES and not keyword:
        raise ValueError(
            f"search mode={mode!r}: this store backend has no keyword index yet; "
            "use mode=None or 'vector'"
        )
    return parse_mode(mode, None if index is None else index.config)


def _texts(index: IndexSpec, value: Any, put_index: Any) -> list[tuple[str, str]]:
    """``index.texts(value, fields of the put)``, reading a plain top-level key (the usual
    ``fields=["text"]``) straight from a dict value."""
    fields = index.fields_for_put(put_index)
    if type(value) is not dict:
        return index.texts(value, fields)
    out: list[tuple[str, str]] = []
    for field in fields:
        steps = index.paths.get(field)
        if steps is not None and len(steps) == 1 and steps[0][0] == "key":
            found = value.get(steps[0][1])
            if type(found) is str:
                if found:
                    out.append((field, found))
                continue
            if found is None:  # missing or None: nothing to embed
                continue
        out.extend(index.texts(value, (field,)))
    return out


def plan_batch(ops: Iterable[Op], index: IndexSpec | None, *, keyword: bool = False) -> BatchPlan:
    """Validate ops and collect what must be embedded; raises before anything is applied.

    ``keyword``: the backend implements keyword and hybrid search (otherwise those modes
    raise ValueError instead of being ignored). Ops built by ``BaseStore`` (see
    :func:`checked`) were validated there and are not checked twice.
    """
    ops = list(ops)
    filters: dict[int, tuple[FilterCondition, ...]] = {}
    texts: list[str] = []
    owners: list[tuple[int, str]] = []
    indexed: list[int] = []
    queries: dict[int, str] = {}
    modes: dict[int, str] = {}
    for i, op in enumerate(ops):
        if type(op) not in _CHECKED_TYPES:
            validate_op(op)
        if isinstance(op, PutOp):
            if index is not None and op.value is not None:
                indexed.append(i)
                for field, text in _texts(index, op.value, op.index):
                    texts.append(text)
                    owners.append((i, field))
        elif isinstance(op, ListNamespacesOp):
            ops[i] = _capped(op)
        elif isinstance(op, SearchOp):
            ops[i] = _capped(op)
            filters[i] = compile_filter(op.filter) if op.filter else _NO_FILTER
            mode = _search_mode(op, index, keyword)
            if mode is not None:
                modes[i] = mode
                if mode != "keyword":
                    queries[i] = op.query  # type: ignore[assignment]
    indexed_ops = frozenset(indexed) if indexed else _NONE
    return BatchPlan(ops, filters, texts, owners, indexed_ops, queries, modes)


def put_texts(plan: BatchPlan) -> dict[int, list[str]]:
    """The indexed texts of each put in ``plan.indexed``, by op index (what a keyword index
    holds: the same texts the store embeds)."""
    out: dict[int, list[str]] = {i: [] for i in plan.indexed}
    for (i, _), text in zip(plan.owners, plan.texts, strict=True):
        out[i].append(text)
    return out


def _assemble(plan: BatchPlan, docs: Any, distinct: list[str], qvecs: list[Vector]) -> BatchVectors:
    documents: dict[int, list[tuple[str, Vector]]] = {i: [] for i in plan.indexed}
    for (i, field), vector in zip(plan.owners, docs, strict=True):
        documents[i].append((field, vector))
    by_text = dict(zip(distinct, qvecs, strict=True))
    return BatchVectors(documents, {i: by_text[q] for i, q in plan.queries.items()})


_NO_VECTORS = BatchVectors({}, {})


def _plain_rows(raw: Any, count: int, dims: int) -> list[Vector] | None:
    """``raw`` itself when it is ``count`` lists of ``dims`` Python floats, checked without
    copying a number (a sum per row: any non-number fails it); None otherwise."""
    if type(raw) is not list or len(raw) != count:
        return None
    for row in raw:
        if type(row) is not list or len(row) != dims:
            return None
        try:
            if type(sum(row)) is not float:  # ints, Decimals, complex...: the checked path
                return None
        except TypeError:
            return None
    return raw


def _documents(index: IndexSpec, raw: Any, count: int, arrays: bool, block: bool) -> Any:
    """Checked document vectors. With ``block`` (stores encoding vectors with numpy): one
    float32 array (``IndexSpec.block``). With ``arrays`` (stores keeping numpy matrices,
    which convert rows themselves): lists of floats passed as they are, anything else as a
    float32 array; otherwise lists of floats (``IndexSpec.check``)."""
    if block:
        return index.block(raw, count, "documents")
    if arrays:
        rows = _plain_rows(raw, count, index.dims)
        if rows is not None:
            return rows
        import numpy as np  # deferred: importing the store interface does not load numpy

        return np.array(index.check(raw, count, "documents"), dtype=np.float32)
    return index.check(raw, count, "documents")


def embed_plan(
    plan: BatchPlan, index: IndexSpec | None, *, arrays: bool = False, block: bool = False
) -> BatchVectors:
    """Embed a plan's documents (one call) and queries (one call per distinct query);
    ``arrays``/``block``: the form of the document vectors (see ``_documents``)."""
    if index is None or not (plan.indexed or plan.queries):
        return _NO_VECTORS
    docs: Any = []
    if plan.texts:
        raw = index.embedder.embed_documents(plan.texts)
        docs = _documents(index, raw, len(plan.texts), arrays, block)
        del raw  # (with ``block``) free the lists now, before the garbage collector walks them
    distinct = list(dict.fromkeys(plan.queries.values()))
    qvecs = [index.check([index.embedder.embed_query(q)], 1, "query")[0] for q in distinct]
    return _assemble(plan, docs, distinct, qvecs)


async def aembed_plan(
    plan: BatchPlan, index: IndexSpec | None, *, arrays: bool = False, block: bool = False
) -> BatchVectors:
    """Async twin of :func:`embed_plan`; documents and queries are embedded concurrently."""
    if index is None or not (plan.indexed or plan.queries):
        return _NO_VECTORS
    distinct = list(dict.fromkeys(plan.queries.values()))

    async def documents() -> Any:
        if not plan.texts:
            return []
        raw = await index.embedder.aembed_documents(plan.texts)
        return _documents(index, raw, len(plan.texts), arrays, block)

    async def query(q: str) -> Vector:
        return index.check([await index.embedder.aembed_query(q)], 1, "query")[0]

    docs, qvecs = await asyncio.gather(documents(), asyncio.gather(*map(query, distinct)))
    return _assemble(plan, docs, distinct, list(qvecs))
