"""``InMemoryStore``: the store for tests, notebooks and single-process programs.

Data lives in a dict of namespaces; vectors in one normalized float32 matrix, so a semantic
search is a single matrix-vector product over the candidates. With ``index={..., "hybrid":
True}`` a BM25 keyword index (``_keywords.KeywordIndex``) over the same texts serves
``search(mode="keyword" | "hybrid")``; it is updated per put and delete, and tokenizes the same
for every language (lower-cased runs of word characters, no stemming). Values are copied in
and out, so callers never alias stored data (the same contract a database gives). One lock
makes it safe across threads; embedding runs outside the lock. The async methods run the same
code (only the embedder is awaited).
"""

from __future__ import annotations

import heapq
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from waypoint.errors import SerializationError
from waypoint._text import value_text_error
from waypoint._process import renew_lock_after_fork
from waypoint.store._batch import (
    BatchPlan,
    BatchVectors,
    aembed_plan,
    checked_get,
    checked_type,
    embed_plan,
    plan_batch,
    put_texts,
)
from waypoint.store._embed import Vector, normalize_index
from waypoint.store._filters import FilterCondition, predicate
from waypoint.store._hybrid import candidates as candidate_count
from waypoint.store._hybrid import keyword_language, rrf_fuse
from waypoint.store._items import make_item
from waypoint.store._keywords import KeywordIndex
from waypoint.store._namespaces import has_prefix, select_namespaces
from waypoint.store._ttl import (
    ThreadSweeper,
    ThreadSweeping,
    expiry,
    is_expired,
    normalize_ttl_config,
    utcnow,
)
from waypoint.store._vectors import VectorMatrix, unit_vector
from waypoint.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

__all__ = ["InMemoryStore"]


_SCALARS = frozenset({int, float, bool, type(None)})


def _copy(value: Any) -> Any:
    """Copy the containers of a JSON-like value; leaves (str, numbers, ...) are immutable."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if type(k) is not str or not k.isascii():
                k = _storable(k)
            kind = type(v)
            if kind is str:
                if not v.isascii():
                    _storable(v)
            elif kind not in _SCALARS:
                v = _copy(v)
            out[k] = v
        return out
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return _storable(value)


def _copy_top(value: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A private copy of a put's value and whether it is flat (no dict or list inside, so a
    shallow copy is a full copy out): one C-level copy, then one pass fixing what needs it."""
    copy = dict(value)
    flat = True
    for k, v in copy.items():
        if type(k) is not str or not k.isascii():
            return _copy(dict(value)), _is_flat(copy)  # unusual keys: the general path
        kind = type(v)
        if kind is str:
            if not v.isascii():
                _storable(v)
        elif kind is dict or kind is list:
            flat = False
            copy[k] = _copy(v)  # same key: the dict's size does not change mid-iteration
        elif kind not in _SCALARS:
            copy[k] = _copy(v)
    return copy, flat


def _is_flat(value: dict[str, Any]) -> bool:
    """No value in it is a dict or list, so a shallow copy is a full copy."""
    for v in value.values():
        if type(v) is dict or type(v) is list:
            return False
    return True


def _values(plan: BatchPlan) -> dict[int, tuple[dict[str, Any], bool]]:
    """A private copy of each put's value and whether it is flat, by op index; raises
    SerializationError naming the item for text no database could store."""
    out: dict[int, tuple[dict[str, Any], bool]] = {}
    for i, op in enumerate(plan.ops):
        if isinstance(op, PutOp) and op.value is not None:
            try:
                out[i] = _copy_top(op.value)
            except SerializationError as exc:
                raise SerializationError(f"{exc} (key {op.key!r} in namespace {op.namespace!r})") from None
    return out


_CHECKED_GET = checked_type(GetOp)
_new_item = object.__new__


def _storable(value: Any) -> Any:
    """``value``, unless it is text no database could store (a lone surrogate): every store
    refuses those, this one too, so code moves between backends unchanged."""
    if type(value) is str and not value.isascii() and (error := value_text_error(value, "store value")):
        raise error
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_NO_ROWS: list[int] = []  # shared, never mutated: records without vectors


class _Record:
    """A stored item. ``value`` is private (copied in); ``flat`` says no value in it is a
    dict or list, so a shallow copy is a full copy out."""

    __slots__ = ("created_at", "expires_at", "flat", "rows", "stamp", "ttl", "updated_at", "value")

    def __init__(
        self, value: dict[str, Any], flat: bool, created_at: datetime, now: datetime,
        stamp: int, ttl: float | None,
    ) -> None:
        self.value = value
        self.flat = flat
        self.created_at = created_at
        self.updated_at = now
        self.stamp = stamp  # integer recency key for ordering: microseconds since the epoch
        self.ttl = ttl
        self.expires_at = None if ttl is None else expiry(now, ttl)
        self.rows: list[int] = _NO_ROWS

    def refresh(self, now: datetime) -> None:
        if self.ttl is not None:
            self.expires_at = expiry(now, self.ttl)

    def copy_value(self) -> dict[str, Any]:
        """A copy of the value the caller may mutate freely."""
        return dict(self.value) if self.flat else _copy(self.value)  # type: ignore[no-any-return]


class InMemoryStore(ThreadSweeping, BaseStore):
    """A thread-safe store kept in process memory, with optional semantic search and TTL.

    ``index``: an :class:`IndexConfig` enabling ``search(query=...)`` (and with ``"hybrid":
    True``, keyword and hybrid search); ``ttl_config``: a :class:`TTLConfig`; ``clock``: a
    zero-argument callable returning aware UTC datetimes, to control time in tests (default:
    the system clock).
    """

    supports_ttl = True

    def __init__(
        self,
        *,
        index: IndexConfig | None = None,
        ttl_config: TTLConfig | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._index = normalize_index(index)
        self.index_config = self._index.config if self._index else None
        self.embeddings = self._index.embedder if self._index else None
        hybrid = keyword_language(self.index_config) is not None
        self._keywords = KeywordIndex() if hybrid else None
        self.ttl_config = normalize_ttl_config(ttl_config)  # type: ignore[assignment]
        self._clock = clock or utcnow
        self._lock = threading.RLock()
        renew_lock_after_fork(self)
        self._data: dict[tuple[str, ...], dict[str, _Record]] = {}
        self._vectors = VectorMatrix(self._index.dims) if self._index else None
        self._sweeper: ThreadSweeper | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "batch" in cls.__dict__ and "get" not in cls.__dict__:
            cls.get = BaseStore.get  # type: ignore[method-assign]  # a batch override sees gets

    def get(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """The item at ``(namespace, key)``, or None if absent or expired (``batch``'s get
        without the batch: validated the same way, read the same way, no list built)."""
        if refresh_ttl is None and self.ttl_config is None:
            return self._get(checked_get(namespace, key, True), None)
        return self._get(self._get_op(namespace, key, refresh_ttl), None)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Apply ops in order (see ``BaseStore``); embeds first, outside the lock."""
        if type(ops) is list and len(ops) == 1 and type(ops[0]) is _CHECKED_GET:
            # ``get``, validated already: nothing to embed or copy in, and no lock needed
            # (a dict read is atomic and a stored record only ever changes its expiry)
            return [self._get(ops[0], None)]
        plan = plan_batch(ops, self._index, keyword=True)
        values = _values(plan)  # copied (and checked) before anything is embedded or applied
        return self._apply(plan, embed_plan(plan, self._index, arrays=True), values)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of :meth:`batch`: awaits the embedder, then runs the same code."""
        plan = plan_batch(ops, self._index, keyword=True)
        values = _values(plan)
        return self._apply(plan, await aembed_plan(plan, self._index, arrays=True), values)

    def _apply(
        self, plan: BatchPlan, vectors: BatchVectors, values: dict[int, tuple[dict[str, Any], bool]]
    ) -> list[Result]:
        results: list[Result] = []
        texts = put_texts(plan) if self._keywords is not None and plan.indexed else {}
        with self._lock:
            now = self._clock()
            stamp = (now - _EPOCH) // _MICROSECOND
            rows = self._add_vectors(vectors.documents) if vectors.documents else {}
            for i, op in enumerate(plan.ops):
                if isinstance(op, PutOp):
                    self._put(op, now, stamp, rows.get(i), values.get(i), texts.get(i))
                    results.append(None)
                elif isinstance(op, GetOp):
                    results.append(self._get(op, now))
                elif isinstance(op, SearchOp):
                    query = vectors.queries.get(i)
                    mode = plan.modes.get(i)
                    results.append(self._search(op, plan.filters[i], mode, query, now))
                else:
                    results.append(self._list(op, now))
        return results

    def _add_vectors(self, documents: dict[int, list[tuple[str, Vector]]]) -> dict[int, list[int]]:
        """Store a batch's document vectors in one call; put index -> matrix rows."""
        if self._vectors is None:
            return {}
        flat: list[Vector] = []
        counts: list[tuple[int, int]] = []
        for i, docs in documents.items():
            counts.append((i, len(docs)))
            for _, vector in docs:
                flat.append(vector)
        rows = self._vectors.add(flat)
        out: dict[int, list[int]] = {}
        start = 0
        for i, count in counts:
            out[i] = rows[start : start + count]
            start += count
        return out

    def _get(self, op: GetOp, now: datetime | None) -> Item | None:
        """One get; ``now`` None reads the clock only if the item has a TTL."""
        items = self._data.get(op.namespace)
        record = None if items is None else items.get(op.key)
        if record is None:
            return None
        if record.expires_at is not None:
            if now is None:
                now = self._clock()
            if record.expires_at <= now:
                return None
            if op.refresh_ttl:
                record.refresh(now)
        item = _new_item(Item)  # make_item, inlined: this is every get's path
        item.namespace = op.namespace if type(op.namespace) is tuple else tuple(op.namespace)
        item.key = op.key
        item.value = dict(record.value) if record.flat else _copy(record.value)
        item.created_at = record.created_at
        item.updated_at = record.updated_at
        return item

    def _drop(self, namespace: tuple[str, ...], key: str) -> None:
        items = self._data.get(namespace)
        if items is None or key not in items:
            return
        self._release(items.pop(key))
        if not items:
            del self._data[namespace]

    def _release(self, record: _Record) -> None:
        """Take a replaced or removed record out of the vector and keyword indexes."""
        if self._vectors is not None and record.rows:
            self._vectors.remove(record.rows)
        if self._keywords is not None:
            self._keywords.remove(record)

    def _put(
        self, op: PutOp, now: datetime, stamp: int, rows: list[int] | None,
        value: tuple[dict[str, Any], bool] | None, texts: list[str] | None,
    ) -> None:
        """Write or delete one item (``value``: its copy and flatness); ``rows`` are its
        vectors, already in the matrix; ``texts`` its indexed texts (for the keyword index)."""
        if value is None:
            self._drop(op.namespace, op.key)
            return
        items = self._data.get(op.namespace)
        if items is None:
            items = self._data[op.namespace] = {}
        previous = items.get(op.key)
        created_at = now
        if previous is not None:
            if previous.expires_at is None or previous.expires_at > now:
                created_at = previous.created_at
            self._release(previous)
        record = _Record(*value, created_at, now, stamp, op.ttl)
        if rows:
            record.rows = rows
        if texts and self._keywords is not None:
            self._keywords.add(record, texts)
        items[op.key] = record

    def _search(
        self,
        op: SearchOp,
        conditions: tuple[FilterCondition, ...],
        mode: str | None,
        query: Vector | None,
        now: datetime,
    ) -> list[SearchItem]:
        test = predicate(conditions)
        # Rank keys, smallest first: newest first, ties by namespace, then key (unique, so
        # the record itself is never compared).
        candidates = [
            (-record.stamp, namespace, key, record)
            for namespace, items in self._data.items()
            if has_prefix(namespace, op.namespace_prefix)
            for key, record in items.items()
            if (record.expires_at is None or record.expires_at > now) and test(record.value)
        ]
        if mode == "keyword" or mode == "hybrid":
            page = self._ranked(op, candidates, mode, query)
        elif query is not None:
            scores = self._vector_scores(candidates, query)

            def rank(i: int) -> tuple[bool, float, int, tuple[str, ...], str]:
                # Scored first, best first; then as above.
                score = scores[i]
                return (score is None, -(score or 0.0), *candidates[i][:3])

            order = heapq.nsmallest(op.offset + op.limit, range(len(candidates)), key=rank)
            page = [(i, scores[i]) for i in order[op.offset :]]
        else:
            newest = heapq.nsmallest(op.offset + op.limit, range(len(candidates)),
                                     key=candidates.__getitem__)
            page = [(i, None) for i in newest[op.offset :]]
        out = []
        for i, score in page:
            _, namespace, key, record = candidates[i]
            if op.refresh_ttl:
                record.refresh(now)
            out.append(
                make_item(namespace, key, record.copy_value(), record.created_at,
                          record.updated_at, score, search=True)
            )
        return out

    def _vector_scores(self, candidates: list[Any], query: Vector) -> list[float | None]:
        assert self._vectors is not None and self._index is not None
        q = unit_vector(query, self._index.dims)
        return self._vectors.max_scores([c[3].rows for c in candidates], q)

    def _ranked(
        self, op: SearchOp, candidates: list[Any], mode: str, query: Vector | None
    ) -> list[tuple[int, float]]:
        """A keyword or hybrid page: ``(candidate index, score)``, best first."""
        assert self._keywords is not None and op.query
        wanted = candidate_count(op.limit, op.offset)
        where = {c[3]: i for i, c in enumerate(candidates)}
        found = self._keywords.scores(op.query, where)
        keyword = heapq.nsmallest(
            wanted, ((where[r], s) for r, s in found.items()),
            key=lambda hit: (-hit[1], *candidates[hit[0]][:3]),
        )
        if mode == "keyword":
            return keyword[op.offset : op.offset + op.limit]
        assert query is not None
        scores = self._vector_scores(candidates, query)
        vector = heapq.nsmallest(
            wanted, (i for i, s in enumerate(scores) if s is not None),
            key=lambda i: (-scores[i], *candidates[i][:3]),  # type: ignore[operator]
        )
        fused = rrf_fuse([[i for i, _ in keyword], vector])
        return fused[op.offset : op.offset + op.limit]

    def _list(self, op: ListNamespacesOp, now: datetime) -> list[tuple[str, ...]]:
        live = (
            namespace
            for namespace, items in self._data.items()
            if any(not is_expired(r.expires_at, now) for r in items.values())
        )
        return select_namespaces(
            live, op.match_conditions, max_depth=op.max_depth, limit=op.limit, offset=op.offset
        )

    # TTL sweeping.

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many were removed."""
        with self._lock:
            now = self._clock()
            expired = [
                (namespace, key)
                for namespace, items in self._data.items()
                for key, record in items.items()
                if is_expired(record.expires_at, now)
            ]
            for namespace, key in expired:
                self._drop(namespace, key)
            return len(expired)

    async def asweep_ttl(self) -> int:
        """Async twin of :meth:`sweep_ttl`."""
        return self.sweep_ttl()

    def __del__(self) -> None:
        sweeper = getattr(self, "_sweeper", None)
        if sweeper is not None:
            sweeper.stop(0)
