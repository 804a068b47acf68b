"""The MongoDB store written once: generator operations over the requests in ``_exec``.

``apply(ctx, plan, vectors)`` runs a validated, embedded batch (see ``store/_batch.py``): puts,
deletes and TTL refreshes accumulate as write models and go out as one ordered ``bulk_write``
just before the next read (so reads see earlier writes) and at the end; a batch of puts is one
``bulk_write`` of two commands, whatever its size. ``MongoDBStore`` drives these operations
with ``_ops.run`` on a ``MongoClient``, ``AsyncMongoDBStore`` with ``_ops.arun`` on an
``AsyncMongoClient``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from bson.binary import Binary, BinaryVectorDtype
from bson.codec_options import CodecOptions
from pymongo import ASCENDING, DESCENDING, DeleteMany, DeleteOne, IndexModel, UpdateMany, UpdateOne

from waypoint._ops import Op
from waypoint.errors import ConfigError
from waypoint.store._batch import BatchPlan, BatchVectors, put_texts
from waypoint.store._embed import IndexSpec, Vector, normalize_index
from waypoint.store._filters import FilterCondition, matches
from waypoint.store._hybrid import BM25, candidates, keyword_language, rrf_fuse
from waypoint.store._items import GetOp, Item, ListNamespacesOp, PutOp, Result, SearchItem, SearchOp
from waypoint.store._namespaces import WILDCARD, select_namespaces, text_to_namespace
from waypoint.store._ttl import expiry, normalize_ttl_config, utcnow
from waypoint.store._vectors import unit_vector
from waypoint.store.mongodb import _atlas
from waypoint.store.mongodb._codec import (
    ITEM_PROJECTION,
    decode_value,
    encode_value,
    encode_vectors,
    live_filter,
    max_scores,
    namespace_fields,
    ns_text,
    prefix_filter,
    stamp_ms,
    to_item,
    to_search_item,
    truncate_ms,
)
from waypoint.store.mongodb._exec import Bulk, Find, Indexes, Next, Open, Sweep
from waypoint.store.mongodb._filters import translate

DEFAULT_DB_NAME = "checkpointing_db"
DEFAULT_COLLECTION = "store"
_CODEC = CodecOptions(tz_aware=True, tzinfo=timezone.utc)


RECENT_FIRST = [("updated_at", DESCENDING), ("ns_sort", ASCENDING), ("key", ASCENDING)]
"""Search order without a query: newest first, ties by namespace (as a tuple), then key."""

BATCH = 500
"""Documents fetched per cursor round trip when a search streams its candidates."""


@dataclass(frozen=True)
class Ctx:
    """What every operation needs: the semantic index, the Atlas opt-in, the clock, and
    whether items keep their indexed texts for keyword search (``index={..., "hybrid":
    True}``)."""

    index: IndexSpec | None = None
    atlas: _atlas.AtlasIndex | None = None
    clock: Callable[[], datetime] = utcnow
    keywords: bool = False


@dataclass
class _Batch:
    """State of one running batch: its timestamp and the writes not yet sent.

    ``expired`` holds the ``(ns, key)`` of puts in the pending run: an expired item still on
    disk must not lend its ``created_at`` to the new one, so one ``delete_many`` of those that
    are expired goes first. Hoisting it to the front of the run is safe: an earlier write of
    the same run leaves the item live at ``now``. A run of puts is thus two commands.
    """

    now: datetime
    writes: list[Any] = field(default_factory=list)
    expired: list[dict[str, str]] = field(default_factory=list)

    def flush(self) -> Bulk | None:
        if not self.writes:
            return None
        models = self.writes
        if self.expired:
            guard = {"$or": self.expired, "expires_at": {"$lte": self.now}}
            models = [DeleteMany(guard), *models]
        request = Bulk(models)
        self.writes, self.expired = [], []
        return request


def configure(
    store: Any,
    client: Any,
    db_name: str,
    collection_name: str,
    index: Mapping[str, Any] | None,
    ttl_config: Mapping[str, Any] | None,
    vector_index: Mapping[str, Any] | None,
) -> None:
    """Set the attributes both store classes share (validating every config first)."""
    spec = normalize_index(index)
    keywords = keyword_language(spec.config if spec else None) is not None
    atlas = _atlas.normalize_vector_index(vector_index, spec is not None)
    ctx = Ctx(spec, atlas, keywords=keywords)
    store.ttl_config = normalize_ttl_config(ttl_config)
    store.index_config = spec.config if spec else None
    store.embeddings = spec.embedder if spec else None
    store.client = client
    store.db = client[db_name]
    store.collection = store.db.get_collection(collection_name, codec_options=_CODEC)
    store._ctx = ctx


def atlas_index_definition(ctx: Ctx) -> dict[str, Any]:
    """The Atlas ``vectorSearch`` index definition for a store with ``vector_index``."""
    if ctx.atlas is None or ctx.index is None:
        raise ConfigError("this store has no vector_index=...; Atlas mode is off")
    return _atlas.index_definition(ctx.atlas, ctx.index.dims)


def setup(ctx: Ctx) -> Op[None]:
    """Create the collection's indexes (idempotent)."""
    yield Indexes([
        IndexModel([("ns", ASCENDING), ("key", ASCENDING)], unique=True, name="ns_key"),
        IndexModel(RECENT_FIRST, name="recent"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),
    ])


def sweep(ctx: Ctx) -> Op[int]:
    """Delete every expired item; returns how many were removed."""
    result = yield Sweep({"expires_at": {"$lte": truncate_ms(ctx.clock())}})
    return int(result.deleted_count)


def apply(ctx: Ctx, plan: BatchPlan, vectors: BatchVectors) -> Op[list[Result]]:
    """Run a planned batch in order; returns one result per op."""
    batch = _Batch(truncate_ms(ctx.clock()))
    results: list[Result] = []
    values = {  # encoded (and checked) before the first write of the batch
        i: encode_value(op.value, f"value of {op.namespace!r}/{op.key!r}")
        for i, op in enumerate(plan.ops) if isinstance(op, PutOp) and op.value is not None
    }
    texts = put_texts(plan) if ctx.keywords else {}
    for i, op in enumerate(plan.ops):
        if isinstance(op, PutOp):
            _put(ctx, op, batch, vectors.documents.get(i), values.get(i), texts.get(i))
            results.append(None)
            continue
        if (pending := batch.flush()) is not None:
            yield pending
        if isinstance(op, GetOp):
            results.append((yield from _get(op, batch)))
        elif isinstance(op, SearchOp):
            query = vectors.queries.get(i)
            mode = plan.modes.get(i)
            results.append((yield from _search(ctx, op, plan.filters[i], mode, query, batch)))
        else:
            results.append((yield from _list(op, batch.now)))
    if (pending := batch.flush()) is not None:
        yield pending
    return results


def _put(
    ctx: Ctx, op: PutOp, batch: _Batch, vectors: list[tuple[str, Vector]] | None, value: Any,
    texts: list[str] | None,
) -> None:
    """Queue the write models of one put or delete; ``texts``: its indexed texts, kept for
    keyword search when the store is hybrid."""
    now = batch.now
    where = {"ns": ns_text(op.namespace), "key": op.key}
    if op.value is None:
        batch.writes.append(DeleteOne(where))
        return
    fields: dict[str, Any] = {
        **namespace_fields(op.namespace),
        "key": op.key,
        "value": value,
        "updated_at": now,
    }
    unset: dict[str, str] = {}
    if op.ttl is not None:
        fields["ttl"] = op.ttl
        fields["expires_at"] = expiry(now, op.ttl)
    else:
        unset.update(ttl="", expires_at="")
    if vectors and ctx.index is not None:
        stored = encode_vectors([v for _, v in vectors], ctx.index.dims)
        fields["vectors"] = stored
        if ctx.atlas is not None:
            fields["embedding"] = Binary.from_vector(
                np.frombuffer(stored[0], dtype="<f4").tolist(), BinaryVectorDtype.FLOAT32
            )
    else:
        unset.update(vectors="", embedding="")
    if texts:
        fields["texts"] = texts
    else:
        unset["texts"] = ""
    if ctx.atlas is not None:
        fields["ns_prefixes"] = _atlas.ns_prefixes(op.namespace)
    update: dict[str, Any] = {"$set": fields, "$setOnInsert": {"created_at": now}}
    if unset:
        update["$unset"] = unset
    batch.expired.append(where)
    batch.writes.append(UpdateOne(where, update, upsert=True))


def _refresh(docs: Iterable[dict[str, Any]], batch: _Batch) -> None:
    """Queue moving the expiry of read items with a TTL to ``now + ttl`` (one write per TTL)."""
    by_ttl: dict[float, list[Any]] = {}
    for doc in docs:
        if doc.get("ttl") is not None:
            by_ttl.setdefault(doc["ttl"], []).append(doc["_id"])
    for ttl, ids in by_ttl.items():
        new = {"$set": {"expires_at": expiry(batch.now, ttl)}}
        batch.writes.append(UpdateMany({"_id": {"$in": ids}}, new))


def _get(op: GetOp, batch: _Batch) -> Op[Item | None]:
    where = {"ns": ns_text(op.namespace), "key": op.key, **live_filter(batch.now)}
    docs = yield Find(where, ITEM_PROJECTION, limit=1)
    if not docs:
        return None
    if op.refresh_ttl:
        _refresh(docs, batch)
    return to_item(docs[0])


def _and(*clauses: dict[str, Any]) -> dict[str, Any]:
    present = [c for c in clauses if c]
    return {"$and": present} if len(present) > 1 else (present[0] if present else {})


def _search(
    ctx: Ctx,
    op: SearchOp,
    conditions: tuple[FilterCondition, ...],
    mode: str | None,
    query: Vector | None,
    batch: _Batch,
) -> Op[list[SearchItem]]:
    translation = translate(conditions)
    where = _and(prefix_filter(op.namespace_prefix), live_filter(batch.now), *translation.clauses)
    if op.limit == 0:
        return []
    if mode == "keyword" or mode == "hybrid":
        docs = yield from _fused(ctx, op, conditions, translation.exact, mode, query, where)
    elif query is not None and ctx.index is not None:
        if ctx.atlas is not None:
            docs = yield from _atlas_candidates(ctx, op, conditions, query, where)
        else:
            docs = yield from _ranked(ctx, op, conditions, translation.exact, query, where)
    elif translation.exact:
        docs = yield Find(where, ITEM_PROJECTION, RECENT_FIRST, op.offset, op.limit)
    else:
        docs = yield from _filtered(op, conditions, where)
    if op.refresh_ttl:
        _refresh(docs, batch)
    return [to_search_item(d) for d in docs]


def _filtered(
    op: SearchOp, conditions: tuple[FilterCondition, ...], where: dict[str, Any]
) -> Op[list[dict[str, Any]]]:
    """Recency order with conditions MongoDB can only approximate: re-check and page here."""
    cursor = yield Open(where, ITEM_PROJECTION, RECENT_FIRST, batch_size=BATCH)
    out: list[dict[str, Any]] = []
    skipped = 0
    while len(out) < op.limit and (docs := (yield Next(cursor, BATCH))):
        for doc in docs:
            if not matches(conditions, decode_value(doc["value"])):
                continue
            if skipped < op.offset:
                skipped += 1
            elif len(out) < op.limit:
                out.append(doc)
    return out


def _ranked(
    ctx: Ctx,
    op: SearchOp,
    conditions: tuple[FilterCondition, ...],
    exact: bool,
    query: Vector,
    where: dict[str, Any],
) -> Op[list[dict[str, Any]]]:
    """Exact cosine over every candidate (numpy, streamed in batches), then one fetch."""
    assert ctx.index is not None
    q = unit_vector(query, ctx.index.dims)
    wanted = op.offset + op.limit
    projection = {"vectors": 1, "updated_at": 1, "ns_sort": 1, "key": 1, "ns": 1}
    if not exact:
        projection["value"] = 1
    cursor = yield Open(where, projection, batch_size=BATCH)
    ranked: list[tuple[Any, ...]] = []
    while docs := (yield Next(cursor, BATCH)):
        if not exact:
            docs = [d for d in docs if matches(conditions, decode_value(d["value"]))]
        for doc, score in zip(docs, max_scores(docs, q, ctx.index.dims), strict=True):
            # Scored first, best first; then newest first; ties by namespace, then key.
            recency = -stamp_ms(doc["updated_at"])
            rank = (score is None, -(score or 0.0), recency, doc["ns_sort"], doc["key"])
            ranked.append((rank, score, doc["_id"]))
        if len(ranked) > 4 * wanted + 10_000:
            ranked = heapq.nsmallest(wanted, ranked)
    chosen = heapq.nsmallest(wanted, ranked)[op.offset :]
    if not chosen:
        return []
    fetched = yield Find({"_id": {"$in": [c[2] for c in chosen]}}, ITEM_PROJECTION)
    by_id = {d["_id"]: d for d in fetched}
    return [{**by_id[c[2]], "score": c[1]} for c in chosen if c[2] in by_id]


def _fused(
    ctx: Ctx,
    op: SearchOp,
    conditions: tuple[FilterCondition, ...],
    exact: bool,
    mode: str,
    query: Vector | None,
    where: dict[str, Any],
) -> Op[list[dict[str, Any]]]:
    """Keyword or hybrid ranking: BM25 over the candidates' stored texts (statistics of the
    candidate set, computed here: the server's ``$text`` index is not used), fused with the
    exact vector ranking by RRF in hybrid mode; then one fetch of the page."""
    assert op.query
    wanted = candidates(op.limit, op.offset)
    bm25 = BM25(op.query)
    vector: list[tuple[Any, ...]] = []
    q = None if query is None or ctx.index is None else unit_vector(query, ctx.index.dims)
    projection = {"texts": 1, "updated_at": 1, "ns_sort": 1, "key": 1, "ns": 1}
    if q is not None:
        projection["vectors"] = 1
    if not exact:
        projection["value"] = 1
    order: dict[Any, tuple[Any, ...]] = {}  # _id -> recency order key of a keyword hit
    cursor = yield Open(where, projection, batch_size=BATCH)
    while docs := (yield Next(cursor, BATCH)):
        if not exact:
            docs = [d for d in docs if matches(conditions, decode_value(d["value"]))]
        scores = max_scores(docs, q, ctx.index.dims) if q is not None and ctx.index else ()
        for doc, score in zip(docs, scores):
            if score is not None:  # best first; ties newest first, then namespace, key
                tie = (-stamp_ms(doc["updated_at"]), doc["ns_sort"], doc["key"])
                vector.append((-score, *tie, doc["_id"]))
        if len(vector) > 4 * wanted + 10_000:
            vector = heapq.nsmallest(wanted, vector)
        for doc in docs:
            if doc.get("texts"):
                order[doc["_id"]] = (-stamp_ms(doc["updated_at"]), doc["ns_sort"], doc["key"])
                bm25.add(doc["_id"], doc["texts"])
    hits = bm25.scores()
    keyword = heapq.nsmallest(wanted, hits, key=lambda hit: (-hit[1], *order[hit[0]]))
    if mode == "keyword":
        chosen = keyword[op.offset : op.offset + op.limit]
    else:
        ranked = [v[-1] for v in heapq.nsmallest(wanted, vector)]
        chosen = rrf_fuse([[k for k, _ in keyword], ranked])[op.offset : op.offset + op.limit]
    if not chosen:
        return []
    fetched = yield Find({"_id": {"$in": [c[0] for c in chosen]}}, ITEM_PROJECTION)
    by_id = {d["_id"]: d for d in fetched}
    return [{**by_id[c[0]], "score": c[1]} for c in chosen if c[0] in by_id]


def _atlas_candidates(
    ctx: Ctx,
    op: SearchOp,
    conditions: tuple[FilterCondition, ...],
    query: Vector,
    where: dict[str, Any],
) -> Op[list[dict[str, Any]]]:
    """Atlas ``$vectorSearch`` (opt-in): ANN candidates, exact re-check, paging here."""
    assert ctx.atlas is not None
    wanted = op.offset + op.limit
    pipeline = _atlas.vector_search_pipeline(
        ctx.atlas, query, op.namespace_prefix, conditions, where, wanted
    )
    cursor = yield Open(pipeline=pipeline, batch_size=BATCH)
    docs: list[dict[str, Any]] = []
    while batch := (yield Next(cursor, BATCH)):
        docs.extend(d for d in batch if matches(conditions, decode_value(d["value"])))
    return docs[op.offset : wanted]


def _list(op: ListNamespacesOp, now: datetime) -> Op[list[tuple[str, ...]]]:
    clauses: list[dict[str, Any]] = [live_filter(now)]
    for cond in op.match_conditions or ():
        if cond.match_type != "prefix" or not cond.path:
            continue  # suffixes are checked below, on the distinct namespaces
        literal = []
        for label in cond.path:
            if label == WILDCARD:
                break
            literal.append(label)
        clauses.append(prefix_filter(literal))
        clauses.append({f"namespace.{len(cond.path) - 1}": {"$exists": True}})
        clauses += [
            {f"namespace.{i}": label} for i, label in enumerate(cond.path) if label != WILDCARD
        ]
    pipeline = [{"$match": _and(*clauses)}, {"$group": {"_id": "$ns"}}]
    cursor = yield Open(pipeline=pipeline, batch_size=BATCH * 10)
    found: list[tuple[str, ...]] = []
    while docs := (yield Next(cursor, BATCH * 10)):
        found.extend(text_to_namespace(d["_id"]) for d in docs)
    return select_namespaces(
        found, op.match_conditions, max_depth=op.max_depth, limit=op.limit, offset=op.offset
    )
