"""The SQL store's operations, written once for every dialect: setup, batch, sweep.

Each is a generator yielding requests (``Fetch``/``Execute``/``ExecuteMany``/``BeginWrite``)
and receiving their results; a driver runs it inside one transaction. A batch is applied as
alternating *runs*: consecutive puts become a few bulk statements (the last write of each item
wins; a delete earlier in the run resets ``created_at``), consecutive reads share one query for
all their gets plus one per search or listing, then one bulk TTL refresh. So ops see each
other in order, as the ``BaseStore`` contract requires, in as few round trips as the batch's
shape allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from waypoint._ops import Op
from waypoint._text import value_text_error
from waypoint.errors import SerializationError, CorruptStoreItemError
from waypoint.store._batch import BatchPlan, BatchVectors
from waypoint.store._filters import FilterCondition
from waypoint.store._items import GetOp, Item, ListNamespacesOp, PutOp, Result, SearchOp, make_item
from waypoint.store._namespaces import WILDCARD, namespace_to_text, text_to_namespace
from waypoint.store._sql import keyword, vectors as ranking
from waypoint.store._sql.dialect import (
    COLUMNS,
    CREATE_MIGRATIONS,
    DELETE_ITEM,
    INSERT_MIGRATION,
    LIVE,
    PREFIX,
    REFRESH,
    SELECT_MIGRATIONS,
    SWEEP,
    SWEEP_VECTORS,
    BeginWrite,
    Execute,
    ExecuteMany,
    Fetch,
    StoreDialect,
    balanced,
    dump_json,
    prefix_bounds,
)
from waypoint.store._ttl import expiry

ItemKey = tuple[str, str]


# --- setup ---------------------------------------------------------------------------------


def setup(d: StoreDialect) -> Op[None]:
    """Create or migrate the schema (idempotent), then the dialect's own checks."""
    for request in d.setup_lock():
        yield request
    yield Execute(CREATE_MIGRATIONS)
    done = {row[0] for row in (yield Fetch(SELECT_MIGRATIONS))}
    for version, statements in enumerate(d.migrations()):
        if version in done:
            continue
        for statement in statements:
            yield Execute(statement)
        yield Execute(d.q(INSERT_MIGRATION), (version,))
    yield from d.after_setup()


# --- values and rows -----------------------------------------------------------------------


def encode_values(plan: BatchPlan) -> dict[int, str]:
    """JSON text of every put's value, by op index; raises before any I/O or embedding."""
    out: dict[int, str] = {}
    for i, op in enumerate(plan.ops):
        if isinstance(op, PutOp) and op.value is not None:
            try:
                out[i] = text = dump_json(op.value)
                if not text.isascii() and (error := value_text_error(text, f"store value for key {op.key!r} in namespace {op.namespace!r}")):
                    raise error
            except SerializationError:
                raise
            except (TypeError, ValueError) as exc:
                raise SerializationError(
                    f"store value for key {op.key!r} in namespace {op.namespace!r} is not JSON "
                    f"data ({exc}); SQL stores keep values as JSON: use str, int, float (finite), "
                    "bool, None, lists and dicts with str keys"
                ) from exc
    return out


def decode_item(d: StoreDialect, row: Sequence[Any], score: Any = None, *, search: bool = False) -> Item:
    """An ``Item`` (or ``SearchItem``) from ``(prefix, key, value, created_at, updated_at, ...)``;
    a value that is not a JSON object raises CorruptStoreItemError naming namespace and key."""
    prefix, key, raw = row[0], row[1], row[2]
    namespace = text_to_namespace(prefix)
    try:
        value = d.decode_value(raw)
    except (TypeError, ValueError) as exc:
        raise _corrupt(namespace, key, f"undecodable JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise _corrupt(namespace, key, f"a JSON {type(value).__name__}, not an object")
    try:
        created, updated = d.decode_time(row[3]), d.decode_time(row[4])
    except (TypeError, ValueError, OverflowError) as exc:
        raise _corrupt(namespace, key, f"bad timestamp {row[3]!r} / {row[4]!r}: {exc}") from exc
    return make_item(namespace, key, value, created, updated,
                     None if score is None else float(score), search=search)


def _corrupt(namespace: tuple[str, ...], key: str, why: str) -> CorruptStoreItemError:
    return CorruptStoreItemError(
        f"the stored value of key {key!r} in namespace {namespace!r} is corrupt ({why}); "
        f"rewrite it with put({namespace!r}, {key!r}, ...) or delete it",
        namespace=namespace,
        key=key,
    )


# --- batch ---------------------------------------------------------------------------------


def batch(
    d: StoreDialect, plan: BatchPlan, values: dict[int, str], vectors: BatchVectors, now: Any
) -> Op[list[Result]]:
    """Apply a planned batch in order; ``now`` is the batch's one timestamp (a datetime)."""
    ops = plan.ops
    results: list[Result] = [None] * len(ops)
    i = 0
    while i < len(ops):
        j = i
        writing = isinstance(ops[i], PutOp)
        while j < len(ops) and isinstance(ops[j], PutOp) == writing:
            j += 1
        if writing:
            yield from _write(d, plan, range(i, j), values, vectors, now)
        else:
            yield from _read(d, plan, range(i, j), vectors, now, results)
        i = j
    return results


def _write(
    d: StoreDialect, plan: BatchPlan, run: range, values: dict[int, str], vectors: BatchVectors,
    now: Any,
) -> Op[None]:
    ops = plan.ops
    last: dict[ItemKey, int] = {}
    reset: set[ItemKey] = set()
    for i in run:
        op = ops[i]
        assert isinstance(op, PutOp)
        item = (namespace_to_text(op.namespace), op.key)
        if op.value is None:
            reset.add(item)
        last[item] = i
    stamp = d.encode_time(now)
    puts = [(item, i) for item, i in last.items() if i in values]
    gone = [item for item, i in last.items() if i not in values or item in reset]
    if gone:
        yield ExecuteMany(d.q(DELETE_ITEM), gone)
    if d.has_vector_table:
        yield from d.delete_vectors_many(list(last))
    if puts:
        put_params, encode_time = d.put_params, d.encode_time
        rows = []
        for (prefix, key), i in puts:
            op = ops[i]
            ttl = op.ttl
            expires_at = None if ttl is None else encode_time(expiry(now, ttl))
            rows.append(put_params(prefix, op.namespace, key, values[i], stamp, expires_at, ttl))
        yield from d.upsert_many(rows)
    if d.keyword_insert is not None and puts:
        texts: dict[int, list[str]] = {}
        for (i, _), text in zip(plan.owners, plan.texts, strict=True):
            texts.setdefault(i, []).append(text)
        rows = [(d.keyword_text(texts[i]), prefix, key) for (prefix, key), i in puts if i in texts]
        if rows:
            yield ExecuteMany(d.q(d.keyword_insert), rows)
    if d.vector_strategy is not None:
        documents = vectors.documents
        keys: list[tuple[str, str, int, str]] = []
        embedded: list[Any] = []
        for (prefix, key), i in puts:
            for seq, (field, vector) in enumerate(documents.get(i, ())):
                keys.append((prefix, key, seq, field))
                embedded.append(vector)
        if embedded:
            encoded = d.vector_params(embedded)
            yield from d.insert_vectors_many(
                [(*row, param) for row, param in zip(keys, encoded, strict=True)])


def _read(
    d: StoreDialect, plan: BatchPlan, run: range, vectors: BatchVectors, now: Any,
    results: list[Result],
) -> Op[None]:
    stamp = d.encode_time(now)
    refresh: dict[ItemKey, float] = {}
    gets = [i for i in run if isinstance(plan.ops[i], GetOp)]
    if gets:
        yield from _get_many(d, plan, gets, stamp, results, refresh)
    for i in run:
        op = plan.ops[i]
        if isinstance(op, SearchOp):
            rows = yield from _search(d, op, plan.filters[i], vectors.queries.get(i), stamp,
                                      plan.modes.get(i))
            results[i] = [decode_item(d, row, row[6], search=True) for row in rows]
            if op.refresh_ttl:
                refresh.update(((r[0], r[1]), r[5]) for r in rows if r[5] is not None)
        elif isinstance(op, ListNamespacesOp):
            results[i] = yield from _list(d, op, stamp)
    if refresh:
        yield BeginWrite()
        rows = [
            (d.encode_time(expiry(now, ttl)), prefix, key) for (prefix, key), ttl in refresh.items()
        ]
        yield ExecuteMany(d.q(REFRESH), rows)


def _search(
    d: StoreDialect, op: SearchOp, conditions: tuple[FilterCondition, ...], query: Any, stamp: Any,
    mode: str | None = None,
) -> Op[list[Any]]:
    where, params = search_where(d, op.namespace_prefix, conditions, stamp)
    prefix = namespace_to_text(op.namespace_prefix) if op.namespace_prefix else None
    try:
        if mode == "keyword":
            return (yield from keyword.keyword(d, where, params, op.query or "", op.limit, op.offset))
        if mode == "hybrid":
            return (yield from keyword.hybrid(d, where, params, op.query or "", query, op.limit,
                                              op.offset, prefix))
        if query is not None and d.vector_strategy is not None:
            return (yield from ranking.rank(d, where, params, query, op.limit, op.offset, prefix))
        if d.recent_index is not None and op.limit > 0:
            return (yield from _recent(d, op, conditions, stamp, where, params))
        return (yield from ranking.plain(d, where, params, op.limit, op.offset))
    except Exception as exc:
        if not conditions or d.valid_json is None:
            raise
        # A filter over a row that is not JSON fails in SQL; name the row instead.
        scope, scope_params = search_where(d, op.namespace_prefix, (), stamp)
        sql = f"SELECT {COLUMNS} FROM waypoint_store AS s WHERE {scope} AND NOT {d.valid_json} LIMIT 1"
        bad = yield Fetch(d.q(sql), scope_params)
        if bad:
            decode_item(d, bad[0])
        raise exc


RECENT_SCAN = 1000
"""Items under a prefix from which a listing walks the ``updated_at`` index instead."""
PREFIX_UNINDEXED = PREFIX.replace("s.prefix", "+s.prefix")  # a prefix test no index serves


def _recent(
    d: StoreDialect, op: SearchOp, conditions: tuple[FilterCondition, ...], stamp: Any,
    where: str, params: list[Any],
) -> Op[list[Any]]:
    """A listing without a query where the dialect has an index on ``updated_at``: a prefix
    holding ``RECENT_SCAN`` items or more is listed by walking that index newest first (the
    prefix then only filters, ``+s.prefix``), stopping once the page is full, instead of
    reading and sorting every item under the prefix; a smaller prefix uses its own index."""
    prefix = namespace_to_text(op.namespace_prefix) if op.namespace_prefix else None
    scope, scope_params = (PREFIX, prefix_bounds(prefix)) if prefix else (d.true, [])
    bound_sql = f"SELECT count(*) FROM (SELECT 1 FROM waypoint_store AS s WHERE {scope} LIMIT ?)"
    [(bound,)] = yield Fetch(d.q(bound_sql), [*scope_params, RECENT_SCAN])
    if bound < RECENT_SCAN:
        return (yield from ranking.plain(d, where, params, op.limit, op.offset))
    where, params = search_where(d, op.namespace_prefix, conditions, stamp, PREFIX_UNINDEXED)
    return (yield from ranking.plain(d, where, params, op.limit, op.offset, d.recent_index))


_GET_ONE = f"SELECT {COLUMNS} FROM waypoint_store AS s WHERE s.prefix = ? AND s.key = ? AND {LIVE}"


def get_one(d: StoreDialect, op: GetOp, now: Any) -> Op[Item | None]:
    """One ``get``: what ``batch`` does for a batch of one ``GetOp``, in one lean operation."""
    prefix = namespace_to_text(op.namespace)
    rows = yield Fetch(d.q(_GET_ONE), [prefix, op.key, d.encode_time(now)])
    if not rows:
        return None
    row = rows[0]
    item = decode_item(d, row)
    if op.refresh_ttl and row[5] is not None:
        yield BeginWrite()
        yield ExecuteMany(d.q(REFRESH), [(d.encode_time(expiry(now, row[5])), prefix, op.key)])
    return item


def _get_many(
    d: StoreDialect, plan: BatchPlan, gets: list[int], stamp: Any, results: list[Result],
    refresh: dict[ItemKey, float],
) -> Op[None]:
    wanted: dict[ItemKey, None] = {}
    for i in gets:
        op = plan.ops[i]
        assert isinstance(op, GetOp)
        wanted[(namespace_to_text(op.namespace), op.key)] = None
    cond, params = d.get_many(list(wanted))
    sql = f"SELECT {COLUMNS} FROM waypoint_store AS s WHERE {cond} AND {LIVE}"
    rows = yield Fetch(d.q(sql), [*params, stamp])
    found = {(row[0], row[1]): row for row in rows}
    for i in gets:
        op = plan.ops[i]
        assert isinstance(op, GetOp)
        item = (namespace_to_text(op.namespace), op.key)
        row = found.get(item)
        if row is None:
            continue
        results[i] = decode_item(d, row)
        if op.refresh_ttl and row[5] is not None:
            refresh[item] = row[5]


def search_where(
    d: StoreDialect, prefix: tuple[str, ...], conditions: Iterable[FilterCondition], stamp: Any,
    prefix_sql: str = PREFIX,
) -> tuple[str, list[Any]]:
    """The WHERE clause of a search: live, under ``prefix``, matching every condition."""
    parts, params = [LIVE], [stamp]
    if prefix:
        parts.append(prefix_sql)
        params.extend(prefix_bounds(namespace_to_text(prefix)))
    for cond in conditions:
        sql, more = d.condition(cond)
        parts.append(sql)
        params.extend(more)
    return balanced(" AND ", parts), params


def _list(d: StoreDialect, op: ListNamespacesOp, stamp: Any) -> Op[list[tuple[str, ...]]]:
    parts, params = [LIVE], [stamp]

    def add(sql_params: tuple[str, list[Any]]) -> None:
        parts.append(sql_params[0])
        params.extend(sql_params[1])

    for cond in op.match_conditions or ():
        labels = tuple(cond.path)
        if not labels:
            continue
        if cond.match_type == "prefix":
            fixed = 0
            while fixed < len(labels) and labels[fixed] != WILDCARD:
                fixed += 1
            if fixed:
                add((PREFIX, prefix_bounds(namespace_to_text(labels[:fixed]))))
            checks = [(i, labels[i]) for i in range(fixed, len(labels))]
        else:
            checks = [(i - len(labels), label) for i, label in enumerate(labels)]
        if checks:
            add(d.depth_at_least(len(labels)))
            for index, label in checks:
                if label != WILDCARD:
                    add(d.label_is(index, label))
    head, head_params = ("s.prefix", []) if op.max_depth is None else d.head(op.max_depth)
    sql = (
        f"SELECT t.ns FROM (SELECT DISTINCT {head} AS ns FROM waypoint_store AS s "
        f"WHERE {' AND '.join(parts)}) AS t ORDER BY {d.ns_order('t.ns')} LIMIT ? OFFSET ?"
    )
    rows = yield Fetch(d.q(sql), [*head_params, *params, op.limit, op.offset])
    return [text_to_namespace(row[0]) for row in rows]


# --- TTL -----------------------------------------------------------------------------------


def sweep(d: StoreDialect, now: Any) -> Op[int]:
    """Delete expired items (and their vectors); returns how many items were removed."""
    stamp = d.encode_time(now)
    if d.has_vector_table:
        yield Execute(d.q(SWEEP_VECTORS), (stamp,))
    rows = yield Fetch(d.q(SWEEP), (stamp,))
    return len(rows)


__all__ = ["batch", "decode_item", "encode_values", "get_one", "search_where", "setup", "sweep"]
