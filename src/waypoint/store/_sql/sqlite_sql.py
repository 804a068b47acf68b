"""The SQLite dialect of the store: DDL, JSON1 filters, namespace labels, vector scoring.

Values are stored as compact JSON text (non-ASCII raw); filters read them with ``json_type`` /
``json_extract`` and a JSON path that is always a bound parameter, built here with each key
quoted and escaped (``$."a"."b"``). SQLite before 3.45 cannot address a key containing ``"``
in a path; such a filter raises InvalidFilterError instead of silently matching nothing.
Equality with a list or object operand is expanded into per-element conditions, so it is JSON
equality (``1 == 1.0``, key order ignored, ``true`` is not ``1``) rather than text equality.
A scalar comparison tests ``json_extract`` before ``json_type``, so most non-matching rows are
rejected by the first (SQLite evaluates the terms in the order written).

Timestamps are integer microseconds since the epoch (exact, index-friendly). The namespace is
also stored as a JSON array (``labels``) for ``"*"`` patterns and ``max_depth`` truncation.
Embeddings are unit-length float32 blobs with an id never reused. Queries are ranked from an
in-memory copy of them (``"matrix"``, see ``sqlite_matrix``) unless the index says
``"vector_cache": False``: then by sqlite-vec's ``vec_distance_cosine`` in SQL when the
connection could load it, else in numpy over the same pre-filtered rows fetched per query.
"""

from __future__ import annotations

import functools
import math
import sqlite3
from collections.abc import Generator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from waypoint.errors import InvalidFilterError, SetupError
from waypoint.store._filters import json_kind
from waypoint.store._sql.dialect import (
    FALSE,
    Execute,
    UPSERT_TAIL,
    Fetch,
    SqlParams,
    StoreDialect,
    balanced,
    dump_json,
    values_requests,
)
from waypoint.store._sql.sqlite_matrix import MatrixCache
from waypoint.store._vectors import unit_rows, unit_vector

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_INT64 = 2**63

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS waypoint_store (
  prefix TEXT NOT NULL,
  key TEXT NOT NULL,
  labels TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER,
  ttl_minutes REAL,
  PRIMARY KEY (prefix, key))""",
        """CREATE INDEX IF NOT EXISTS waypoint_store_expires_at ON waypoint_store (expires_at)
  WHERE expires_at IS NOT NULL""",
        """CREATE TABLE IF NOT EXISTS waypoint_store_vectors (
  prefix TEXT NOT NULL,
  key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  field TEXT NOT NULL,
  embedding BLOB NOT NULL,
  PRIMARY KEY (prefix, key, seq))""",
    ),
    # 1: vectors get an id that is never reused, so a store can cache them in memory and fetch
    # only rows added since (see ``sqlite_matrix``).
    (
        """CREATE TABLE waypoint_store_vectors_v1 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  prefix TEXT NOT NULL,
  key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  field TEXT NOT NULL,
  embedding BLOB NOT NULL,
  UNIQUE (prefix, key, seq))""",
        """INSERT INTO waypoint_store_vectors_v1 (prefix, key, seq, field, embedding)
  SELECT prefix, key, seq, field, embedding FROM waypoint_store_vectors ORDER BY rowid""",
        "DROP TABLE waypoint_store_vectors",
        "ALTER TABLE waypoint_store_vectors_v1 RENAME TO waypoint_store_vectors",
    ),
    # 2: listings without a query walk items newest first and stop after the page.
    ("CREATE INDEX IF NOT EXISTS waypoint_store_updated_at ON waypoint_store (updated_at)",),
)

UPSERT_HEAD = (
    "INSERT INTO waypoint_store "
    "(prefix, key, labels, value, created_at, updated_at, expires_at, ttl_minutes) VALUES "
)
UPSERT_ROW = "(?, ?, ?, ?, ?, ?, ?, ?)"
UPSERT = UPSERT_HEAD + UPSERT_ROW + UPSERT_TAIL
INSERT_VECTORS_HEAD = (
    "INSERT INTO waypoint_store_vectors (prefix, key, seq, field, embedding) VALUES "
)
DELETE_VECTORS_HEAD = "DELETE FROM waypoint_store_vectors WHERE (prefix, key) IN (VALUES "

VEC_SCORE = (
    "(SELECT max(coalesce(1.0 - vec_distance_cosine(v.embedding, ?), 0.0)) "
    "FROM waypoint_store_vectors AS v WHERE v.prefix = s.prefix AND v.key = s.key)"
)
JOINED_SCORE = "coalesce(1.0 - vec_distance_cosine(v.embedding, ?), 0.0)"  # ranks by a join


FTS_TABLE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS waypoint_store_fts USING fts5(text, "
    "tokenize='{tokenizer}')"
)
"""The keyword index of a hybrid store: one row per item, ``rowid`` = the item's rowid."""
FTS_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS waypoint_store_fts_delete AFTER DELETE ON waypoint_store "
    "BEGIN DELETE FROM waypoint_store_fts WHERE rowid = old.rowid; END",
    "CREATE TRIGGER IF NOT EXISTS waypoint_store_fts_update AFTER UPDATE OF value ON waypoint_store "
    "BEGIN DELETE FROM waypoint_store_fts WHERE rowid = old.rowid; END",
)
FTS_INSERT = (
    "INSERT INTO waypoint_store_fts (rowid, text) "
    "SELECT rowid, ? FROM waypoint_store WHERE prefix = ? AND key = ?"
)
FTS_QUERY = (
    "SELECT s.prefix, s.key, s.value, s.created_at, s.updated_at, s.ttl_minutes, "
    "-bm25(waypoint_store_fts) AS score FROM waypoint_store_fts "
    "JOIN waypoint_store AS s ON s.rowid = waypoint_store_fts.rowid "
    "WHERE waypoint_store_fts MATCH ? AND {where} "
    "ORDER BY score DESC, s.updated_at DESC, replace(s.prefix, '.', char(1)), s.key LIMIT ? OFFSET ?"
)


def fts_tokenizer(language: str) -> str:
    """FTS5 tokenizer of a hybrid store's ``language``: ``porter unicode61`` (Porter stemming)
    for English, plain ``unicode61`` (case and diacritics folded, no stemming) otherwise, as
    FTS5 ships no other stemmer."""
    return "porter unicode61" if language.lower() in ("english", "en") else "unicode61"


@functools.lru_cache(maxsize=1024)
def _labels(namespace: tuple[str, ...]) -> str:
    """The ``labels`` column of a namespace: its labels as a JSON array."""
    return dump_json(list(namespace))


def _number(value: float | int) -> float | int:
    """A JSON number as a SQLite parameter (ints beyond 64 bits compare as reals)."""
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        return float(value)
    return value


_BYTE_HEAD = (
    "(WITH RECURSIVE cut(pos, n) AS (SELECT 0, 0 UNION ALL "
    "SELECT pos + instr(substr(CAST(s.prefix AS BLOB), pos + 1), X'2E'), n + 1 FROM cut "
    "WHERE n < ? AND instr(substr(CAST(s.prefix AS BLOB), pos + 1), X'2E') > 0) "
    "SELECT CAST(substr(CAST(s.prefix AS BLOB), 1, CASE WHEN max(n) < ? "
    "THEN length(CAST(s.prefix AS BLOB)) ELSE max(pos) - 1 END) AS TEXT) FROM cut)"
)
"""The prefix cut before its depth-th "." counted in bytes (params: depth, depth)."""


class SqliteDialect(StoreDialect):
    """SQLite: ``?`` placeholders, JSON1 functions, integer-microsecond timestamps."""

    name = "sqlite"
    placeholder = "?"
    has_vector_table = True
    valid_json = "json_valid(s.value)"
    single_read_mode = True
    recent_index = "waypoint_store AS s INDEXED BY waypoint_store_updated_at"
    keyword_search = True
    vector_block = True

    def __init__(
        self, *, vector_strategy: str | None = None, dims: int | None = None,
        language: str | None = None,
    ) -> None:
        self.vector_strategy = vector_strategy
        self.dims = dims
        self.matrix = MatrixCache(dims) if dims else None
        self.tokenizer = None if language is None else fts_tokenizer(language)
        self.keyword_insert = None if language is None else FTS_INSERT
        self.escaped_labels = sqlite3.sqlite_version_info >= (3, 45, 0)

    def with_library(self, version: tuple[int, ...]) -> SqliteDialect:
        """Adapt to the SQLite library actually behind the connection (sqlean may be newer)."""
        self.escaped_labels = tuple(version) >= (3, 45, 0)
        return self

    def migrations(self) -> Sequence[Sequence[str]]:
        return MIGRATIONS

    def after_setup(self) -> Generator[Any, Any, None]:
        if self.tokenizer is not None:
            yield from self._setup_keywords()
        if not self.dims:
            return
        rows = yield Fetch("SELECT length(embedding) FROM waypoint_store_vectors LIMIT 1")
        if rows and rows[0][0] != 4 * self.dims:
            raise SetupError(
                f"this SQLite store holds {rows[0][0] // 4}-dimensional vectors but the index "
                f"has dims={self.dims}; use the original dims, or a new database for the new "
                "embedding model"
            )

    def _setup_keywords(self) -> Generator[Any, Any, None]:
        """The FTS5 table of a hybrid store (created by the first one) and the triggers that
        drop an item's text whenever any writer rewrites or deletes the item."""
        rows = yield Fetch("SELECT sql FROM sqlite_master WHERE name = 'waypoint_store_fts'")
        if rows:
            if f"tokenize='{self.tokenizer}'" not in rows[0][0]:
                raise SetupError(
                    f"this SQLite store's keyword index was created with another language "
                    f"(FTS5 {rows[0][0].split('tokenize=')[-1].rstrip(')')}, this index asks for "
                    f"'{self.tokenizer}'); open it with the language it was created with"
                )
        else:
            yield Execute(FTS_TABLE.format(tokenizer=self.tokenizer))
        for statement in FTS_TRIGGERS:
            yield Execute(statement)

    def keyword_query(
        self, where: str, params: list[Any], terms: Sequence[str], limit: int, offset: int,
    ) -> SqlParams:
        """Items whose text has any of ``terms`` (each a quoted FTS5 string), by ``-bm25()``."""
        match = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        return FTS_QUERY.format(where=where), [match, *params, limit, offset]

    def encode_time(self, value: datetime) -> int:
        return (value - _EPOCH) // timedelta(microseconds=1)

    def decode_time(self, raw: Any) -> datetime:
        return _EPOCH + timedelta(microseconds=int(raw))

    def upsert(self) -> str:
        return UPSERT

    # A batch's writes go as multi-row statements (a fifth less time than executemany's one
    # statement per row, and one AUTOINCREMENT update per statement for the vectors).

    def upsert_many(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        return values_requests(UPSERT_HEAD, UPSERT_ROW, rows, UPSERT_TAIL)

    def delete_vectors_many(self, items: list[tuple[str, str]]) -> list[Any]:
        return values_requests(DELETE_VECTORS_HEAD, "(?, ?)", items, ")")

    def insert_vectors_many(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        return values_requests(INSERT_VECTORS_HEAD, "(?, ?, ?, ?, ?)", rows)

    def put_params(
        self, prefix: str, namespace: tuple[str, ...], key: str, value: str, created: Any,
        expires: Any, ttl: float | None,
    ) -> tuple[Any, ...]:
        return (prefix, key, _labels(namespace), value, created, created, expires, ttl)

    def vector_param(self, vector: Sequence[float]) -> bytes:
        return unit_vector(vector, len(vector)).astype("<f4").tobytes()

    def vector_params(self, vectors: Sequence[Sequence[float]]) -> list[Any]:
        """Unit float32 blobs, normalized in one pass over the batch (its rows come from the
        one float32 block ``IndexSpec.block`` made: ``vector_block``)."""
        if not vectors:
            return []
        block = unit_rows(vectors, len(vectors[0])).astype("<f4", copy=False)
        return [row.tobytes() for row in block]

    # --- filters ----------------------------------------------------------------------------

    def path(self, path: Sequence[str | int]) -> str:
        """A JSON path for SQLite, every key quoted and escaped (bound as a parameter)."""
        out = ["$"]
        for step in path:
            if isinstance(step, int):
                out.append(f"[{step}]")
                continue
            if '"' in step and not self.escaped_labels:
                raise InvalidFilterError(
                    f"filter key segment {step!r} contains '\"', which SQLite "
                    f"{sqlite3.sqlite_version} cannot address in a JSON path; rename the key "
                    "or use SQLite >= 3.45 (e.g. the sqlean.py package)"
                )
            out.append(".")
            out.append(dump_json(step))
        return "".join(out)

    def present(self, path: tuple[str, ...]) -> SqlParams:
        return "json_type(s.value, ?) IS NOT NULL", [self.path(path)]

    def equals(self, path: Sequence[str | int], value: Any) -> SqlParams:
        p = self.path(path)
        kind = json_kind(value)
        if kind == "null":
            return "json_type(s.value, ?) = 'null'", [p]
        if kind == "bool":
            return f"json_type(s.value, ?) = '{'true' if value else 'false'}'", [p]
        if kind == "number":
            if not math.isfinite(value):
                return FALSE, []
            sql = "(json_extract(s.value, ?) = ? AND json_type(s.value, ?) IN ('integer', 'real'))"
            return sql, [p, _number(value), p]
        if kind == "string":
            return "(json_extract(s.value, ?) = ? AND json_type(s.value, ?) = 'text')", [p, value, p]
        if kind == "array":
            parts: list[str] = ["json_type(s.value, ?) = 'array'", "json_array_length(s.value, ?) = ?"]
            params: list[Any] = [p, p, len(value)]
            children = [self.equals([*path, i], v) for i, v in enumerate(value)]
        else:
            parts = ["json_type(s.value, ?) = 'object'",
                     "(SELECT count(*) FROM json_each(s.value, ?)) = ?"]
            params = [p, p, len(value)]
            children = [self.equals([*path, k], v) for k, v in value.items()]
        for sql, more in children:
            parts.append(sql)
            params.extend(more)
        return balanced(" AND ", parts), params

    def equals_any(self, path: tuple[str, ...], values: list[Any]) -> SqlParams:
        """Strings and numbers are looked up in one JSON array each (``IN (SELECT value FROM
        json_each(?))``), so a ``$in`` of thousands of values is a few parameters, not thousands
        of terms; other values are compared one by one."""
        p = self.path(path)
        strings = [v for v in values if isinstance(v, str)]
        numbers = [_number(v) for v in values if json_kind(v) == "number" and math.isfinite(v)]
        others = [v for v in values if json_kind(v) not in ("string", "number")]
        parts: list[str] = []
        params: list[Any] = []
        if strings:
            parts.append("(json_type(s.value, ?) = 'text' AND json_extract(s.value, ?) IN "
                         "(SELECT value FROM json_each(?)))")
            params += [p, p, dump_json(strings)]
        if numbers:
            parts.append("(json_type(s.value, ?) IN ('integer', 'real') AND json_extract(s.value, ?) IN "
                         "(SELECT value FROM json_each(?)))")
            params += [p, p, dump_json(numbers)]
        for v in others:
            sql, more = self.equals(path, v)
            parts.append(sql)
            params += more
        return (balanced(" OR ", parts) if parts else FALSE), params

    def compare(self, path: tuple[str, ...], op: str, value: Any) -> SqlParams:
        p = self.path(path)
        if isinstance(value, str):
            return f"(json_extract(s.value, ?) {op} ? AND json_type(s.value, ?) = 'text')", [p, value, p]
        sql = f"(json_extract(s.value, ?) {op} ? AND json_type(s.value, ?) IN ('integer', 'real'))"
        return sql, [p, _number(value), p]

    # --- namespaces ---------------------------------------------------------------------------

    def label_is(self, index: int, label: str) -> SqlParams:
        p = f"$[{index}]" if index >= 0 else f"$[#{index}]"
        return "json_extract(s.labels, ?) = ?", [p, label]

    def depth_at_least(self, depth: int) -> SqlParams:
        return "json_array_length(s.labels) >= ?", [depth]

    def head(self, depth: int) -> SqlParams:
        # A label holding NUL (written before NUL was refused) is cut short by SQLite's JSON
        # functions, so such rows find the depth-th "." in the prefix's bytes instead.
        sql = ("CASE WHEN instr(CAST(s.prefix AS BLOB), X'00') = 0 THEN "
               "substr(s.prefix, 1, (SELECT sum(length(j.value)) + count(*) - 1 "
               "FROM json_each(s.labels) AS j WHERE j.key < ?)) ELSE " + _BYTE_HEAD + " END")
        return sql, [depth, depth, depth]

    def ns_order(self, expr: str) -> str:
        return f"replace({expr}, '.', char(1))"

    def get_many(self, keys: Sequence[tuple[str, str]]) -> SqlParams:
        if len(keys) == 1:  # a primary-key lookup, without a JSON list to build and parse
            return "(s.prefix = ? AND s.key = ?)", list(keys[0])
        sql = ("(s.prefix, s.key) IN (SELECT json_extract(j.value, '$[0]'), "
               "json_extract(j.value, '$[1]') FROM json_each(?) AS j)")
        return sql, [dump_json([list(k) for k in keys])]

    # --- vectors -------------------------------------------------------------------------------

    def score(self, query: Sequence[float]) -> SqlParams:
        return VEC_SCORE, [self.vector_param(query)]

    def joined_score(self, query: Sequence[float]) -> SqlParams:
        return JOINED_SCORE, [self.vector_param(query)]

    def decode_vectors(self, blobs: Sequence[bytes]) -> np.ndarray:
        """Stored embeddings as a ``(n, dims)`` float32 matrix (unit rows)."""
        dims = self.dims or 0
        return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dims)

    def unit_query(self, query: Sequence[float]) -> np.ndarray:
        return unit_vector(query, len(query))


__all__ = ["SqliteDialect"]
