"""What the SQL stores share: requests, statement shapes, and the base of a dialect.

Statements are written once with ``?`` placeholders; :meth:`StoreDialect.q` turns them into the
engine's style. A dialect supplies only what differs between engines: DDL, time and value
encodings, JSON filter primitives, namespace label functions and the vector score expression.
No statement ever contains a user value: namespaces, keys, filter paths and operands, vectors
and timestamps are always parameters.

Tables:

- ``waypoint_store``          one row per item: ``prefix`` (namespace joined with ``"."``),
  ``key``, ``value`` (JSON), ``created_at``, ``updated_at``, ``expires_at``, ``ttl_minutes``.
- ``waypoint_store_vectors``  one row per embedded text: ``(prefix, key, seq)``, ``field``,
  ``embedding``.
- ``waypoint_store_migrations``  applied schema versions.
"""

from __future__ import annotations

import functools
import json
import math
from itertools import chain
from collections.abc import Generator, Sequence
from datetime import datetime
from abc import ABC, abstractmethod
from typing import Any, NamedTuple

from waypoint.checkpoint._sql.requests import READ, WRITE, Execute, ExecuteMany, Fetch
from waypoint.store._filters import ORDERING_OPERATORS, FilterCondition, json_kind

SqlParams = tuple[str, list[Any]]

COLUMNS = "s.prefix, s.key, s.value, s.created_at, s.updated_at, s.ttl_minutes"
LIVE = "(s.expires_at IS NULL OR s.expires_at > ?)"
PREFIX = "(s.prefix = ? OR (s.prefix > ? AND s.prefix < ?))"
FALSE = "(1 = 0)"
HAS_VECTORS = (
    "EXISTS (SELECT 1 FROM waypoint_store_vectors AS v WHERE v.prefix = s.prefix AND v.key = s.key)"
)

DELETE_ITEM = "DELETE FROM waypoint_store WHERE prefix = ? AND key = ?"
DELETE_VECTORS = "DELETE FROM waypoint_store_vectors WHERE prefix = ? AND key = ?"
INSERT_VECTOR = (
    "INSERT INTO waypoint_store_vectors (prefix, key, seq, field, embedding) VALUES (?, ?, ?, ?, {})"
)
REFRESH = (
    "UPDATE waypoint_store SET expires_at = ? "
    "WHERE prefix = ? AND key = ? AND ttl_minutes IS NOT NULL"
)
SWEEP_VECTORS = (
    "DELETE FROM waypoint_store_vectors WHERE (prefix, key) IN "
    "(SELECT prefix, key FROM waypoint_store WHERE expires_at <= ?)"
)
SWEEP = "DELETE FROM waypoint_store WHERE expires_at <= ? RETURNING 1"
CREATE_MIGRATIONS = "CREATE TABLE IF NOT EXISTS waypoint_store_migrations (v INTEGER PRIMARY KEY)"
SELECT_MIGRATIONS = "SELECT v FROM waypoint_store_migrations"
INSERT_MIGRATION = "INSERT INTO waypoint_store_migrations (v) VALUES (?)"

UPSERT_TAIL = """
ON CONFLICT (prefix, key) DO UPDATE SET
  value = excluded.value,
  created_at = CASE WHEN waypoint_store.expires_at IS NOT NULL
    AND waypoint_store.expires_at <= excluded.updated_at
    THEN excluded.created_at ELSE waypoint_store.created_at END,
  updated_at = excluded.updated_at,
  expires_at = excluded.expires_at,
  ttl_minutes = excluded.ttl_minutes"""

_COMPARATORS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

SINGLE_READ = "single-read"
"""Transaction mode of a batch of gets only (one statement, plus a write if TTLs refresh), for
dialects whose ``single_read_mode`` is True: the driver runs the read without opening a
transaction (one statement is atomic on its own) and opens one only at ``BeginWrite``."""


class BeginWrite(NamedTuple):
    """Request: the operation is about to write. A driver that started a read transaction
    commits it and opens a write transaction; others do nothing."""


def prefix_bounds(text: str) -> list[str]:
    """Parameters of :data:`PREFIX`: the namespace itself, or anything below it.

    ``"a."`` <= below < ``"a/"`` because ``"/"`` follows ``"."``; binary collation required.
    """
    return [text, text + ".", text + "/"]


def finite(value: Any) -> bool:
    """Whether a JSON operand can equal a stored value (stored JSON has no NaN/Infinity)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(finite(v) for v in value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    return True


def balanced(joiner: str, parts: Sequence[str]) -> str:
    """``parts`` joined by ``joiner`` (``" AND "``/``" OR "``) as a balanced tree of
    parentheses: the expression nests log2(n) deep, not n (SQLite refuses expressions nested
    more than 1,000 deep, which a flat chain of a thousand terms already is)."""
    if len(parts) <= 8:
        return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"
    mid = len(parts) // 2
    return "(" + balanced(joiner, parts[:mid]) + joiner + balanced(joiner, parts[mid:]) + ")"


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _c_encoder() -> Any:
    """The C encoder ``_ENCODER.encode`` builds on every call, made directly (a third less
    time per value); None where this Python has no C encoder or another signature."""
    from json import encoder

    make, strings = getattr(encoder, "c_make_encoder", None), encoder.encode_basestring
    if make is None:
        return None

    def encode(value: Any) -> str:
        iterencode = make({}, _ENCODER.default, strings, None, ":", ",", False, False, False)
        return "".join(iterencode(value, 0))

    try:
        probe = {"a": [1, 2.5, None, True, "\u00e9\n"], "b": {}}
        if encode(probe) != _ENCODER.encode(probe):
            return None
    except Exception:
        return None
    return encode


_C_ENCODE = _c_encoder()


def dump_json(value: Any) -> str:
    """Compact JSON text with raw (unescaped) non-ASCII, as values are stored (one shared
    encoder: ``json.dumps`` with options builds a new one per call)."""
    if _C_ENCODE is not None and type(value) is not str:
        return _C_ENCODE(value)  # type: ignore[no-any-return]
    return _ENCODER.encode(value)


MAX_PARAMS = 999
"""Parameters per multi-row statement (the lowest limit SQLite is ever compiled with)."""


@functools.lru_cache(maxsize=64)
def _values_sql(head: str, row: str, count: int, tail: str) -> str:
    return head + ",".join([row] * count) + tail


def values_requests(
    head: str, row: str, rows: Sequence[Sequence[Any]], tail: str = ""
) -> list[Execute]:
    """``rows`` as multi-row statements ``head row,row,... tail`` (``row``: one tuple of
    placeholders), each binding at most :data:`MAX_PARAMS` parameters: one statement per
    chunk instead of one per row."""
    if not rows:
        return []
    per = max(1, MAX_PARAMS // len(rows[0]))
    out = []
    for start in range(0, len(rows), per):
        part = rows[start : start + per]
        params = list(chain.from_iterable(part))
        out.append(Execute(_values_sql(head, row, len(part), tail), params))
    return out


class StoreDialect(ABC):
    """The engine-specific half of the SQL store. Subclasses fill in the hooks below.

    ``vector_strategy`` says how a query is ranked: ``None`` (no vectors configured),
    ``"sql"`` (a score expression, exact), ``"numpy"`` (fetch pre-filtered vectors, score in
    numpy, exact) or ``"ann"`` (approximate index for large candidate sets, exact otherwise).
    ``has_vector_table`` says whether ``waypoint_store_vectors`` exists (old vectors are then
    removed whenever an item is rewritten, even by a store opened without an index).
    """

    name = "sql"
    placeholder = "?"
    true = "(1 = 1)"
    vector_strategy: str | None = None
    has_vector_table = False
    can_query = True
    dims: int | None = None
    exact_threshold = 0
    valid_json: str | None = None  # SQL testing that s.value parses, where it may not
    single_read_mode = False  # whether the driver understands SINGLE_READ
    recent_index: str | None = None  # FROM clause listing through an index on updated_at
    keyword_search = False  # implements keyword_query (modes "keyword" and "hybrid")
    keyword_insert: str | None = None  # statement indexing a put's text: (text, prefix, key)
    vector_block = False  # vector_params takes float32 numpy rows (``IndexSpec.block``)

    def q(self, sql: str) -> str:
        """A shared statement in this dialect's placeholder style."""
        if self.placeholder == "?":
            return sql
        return sql.replace("%", "%%").replace("?", self.placeholder)

    # --- schema ---------------------------------------------------------------------------

    @abstractmethod
    def migrations(self) -> Sequence[Sequence[str]]:
        """Schema versions, oldest first; each a list of statements."""

    def setup_lock(self) -> Sequence[Any]:
        """Requests that serialize concurrent setups (inside the setup transaction)."""
        return ()

    def unavailable_message(self) -> str:
        """Why ``search(query=...)`` cannot run, and how to enable it."""
        return f"vector search is unavailable on this {self.name} store"

    def after_setup(self) -> Generator[Any, Any, None]:
        """Dialect-specific setup after the migrations (vector tables, checks)."""
        return
        yield

    # --- encodings ------------------------------------------------------------------------

    def encode_time(self, value: datetime) -> Any:
        return value

    @abstractmethod
    def decode_time(self, raw: Any) -> datetime:
        """A stored timestamp as an aware UTC datetime."""

    def decode_value(self, raw: Any) -> Any:
        return json.loads(raw) if isinstance(raw, (str, bytes)) else raw

    @abstractmethod
    def upsert(self) -> str:
        """Statement writing one item; parameters from :meth:`put_params`."""

    @abstractmethod
    def put_params(
        self, prefix: str, namespace: tuple[str, ...], key: str, value: str, created: Any,
        expires: Any, ttl: float | None,
    ) -> tuple[Any, ...]:
        """Parameters of :meth:`upsert` (``created`` is also the update time)."""

    def upsert_many(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """The requests writing ``rows`` (each :meth:`put_params`); a dialect may send
        set-based statements instead of one statement per row."""
        return [ExecuteMany(self.q(self.upsert()), rows)]

    def delete_vectors_many(self, items: list[tuple[str, str]]) -> list[Any]:
        """The requests removing the vectors of ``items`` ``(prefix, key)``."""
        return [ExecuteMany(self.q(DELETE_VECTORS), items)]

    def insert_vectors_many(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """The requests storing vector rows ``(prefix, key, seq, field, vector param)``."""
        return [ExecuteMany(self.q(INSERT_VECTOR.format(self.vector_cast())), rows)]

    @abstractmethod
    def vector_param(self, vector: Sequence[float]) -> Any:
        """One embedding as a statement parameter (None: nothing to store)."""

    def vector_params(self, vectors: Sequence[Sequence[float]]) -> list[Any]:
        """:meth:`vector_param` of each vector (a dialect may encode them all at once)."""
        return [self.vector_param(v) for v in vectors]

    def keyword_text(self, texts: list[str]) -> str:
        """The text a put's keyword index row holds (``keyword_insert``'s first parameter)."""
        return "\n".join(texts)

    def vector_cast(self) -> str:
        """SQL wrapped around an embedding placeholder."""
        return "?"

    # --- filters ----------------------------------------------------------------------------

    @abstractmethod
    def present(self, path: tuple[str, ...]) -> SqlParams:
        """The value has something (JSON null included) at ``path``."""

    @abstractmethod
    def equals(self, path: tuple[str, ...], value: Any) -> SqlParams:
        """JSON equality of the value at ``path`` with a finite operand (false if missing)."""

    def equals_any(self, path: tuple[str, ...], values: list[Any]) -> SqlParams:
        """Whether the value at ``path`` equals one of ``values`` (non-empty, finite)."""
        parts = [self.equals(path, v) for v in values]
        return balanced(" OR ", [p[0] for p in parts]), [x for p in parts for x in p[1]]

    @abstractmethod
    def compare(self, path: tuple[str, ...], op: str, value: Any) -> SqlParams:
        """``value at path <op> value`` for a number or string operand, same types only."""

    def condition(self, cond: FilterCondition) -> SqlParams:
        """One compiled filter condition (see ``waypoint.store._filters`` for the rules)."""
        path, op, value = cond
        if op in ORDERING_OPERATORS:
            if json_kind(value) == "number" and math.isnan(value):
                return FALSE, []
            sql, params = self.compare(path, _COMPARATORS[op], value)
            return sql, params
        if op in ("$eq", "$ne"):
            values = [value] if finite(value) else []
        else:
            values = [v for v in value if finite(v)]
        if op in ("$eq", "$in"):
            return self.equals_any(path, values) if values else (FALSE, [])
        present, params = self.present(path)
        if not values:
            return present, params
        sql, more = self.equals_any(path, values)
        return f"({present} AND NOT {sql})", params + more

    # --- namespaces ---------------------------------------------------------------------------

    @abstractmethod
    def label_is(self, index: int, label: str) -> SqlParams:
        """The namespace's label ``index`` (negative: from the end) equals ``label``."""

    @abstractmethod
    def depth_at_least(self, depth: int) -> SqlParams:
        """The namespace has at least ``depth`` labels."""

    @abstractmethod
    def head(self, depth: int) -> SqlParams:
        """The namespace text truncated to its first ``depth`` labels."""

    @abstractmethod
    def ns_order(self, expr: str) -> str:
        """ORDER BY term sorting namespace texts as label tuples."""

    @abstractmethod
    def get_many(self, keys: Sequence[tuple[str, str]]) -> SqlParams:
        """Condition: ``(s.prefix, s.key)`` is one of ``keys``."""

    # --- vectors -------------------------------------------------------------------------------

    @abstractmethod
    def score(self, query: Sequence[float]) -> SqlParams:
        """Correlated expression: the best similarity of item ``s`` to ``query`` (NULL when it
        has no vectors); higher is closer."""

    def joined_score(self, query: Sequence[float]) -> SqlParams | None:
        """The similarity of one joined vector row ``v`` to ``query``, if the ``"sql"``
        strategy should rank over a join of items and vectors (faster where a subquery per
        item is costly); None ranks with :meth:`score`."""
        return None


__all__ = [
    "BeginWrite",
    "Execute",
    "ExecuteMany",
    "Fetch",
    "READ",
    "SINGLE_READ",
    "StoreDialect",
    "WRITE",
    "balanced",
    "dump_json",
    "finite",
    "prefix_bounds",
    "values_requests",
]
