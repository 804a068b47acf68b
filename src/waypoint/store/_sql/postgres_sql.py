"""The PostgreSQL dialect of the store: DDL, JSONB filters, namespace labels, pgvector.

Values are ``jsonb``; a filter reads ``value -> %s::text -> ...`` with each path segment bound as a
parameter (so a numeric segment is an object key, never an array index) and compares with JSONB equality (``1 = 1.0``, key order ignored, ``true`` is not
``1``) or, for ``$gt``..., a typed comparison guarded by ``jsonb_typeof`` (strings by code point:
``COLLATE "C"``). Namespaces and keys are ``COLLATE "C"`` columns so prefix ranges use the
primary key and ordering is by code point.

Vectors (``index``) need pgvector: a ``halfvec(dims)`` column for new stores (an existing
table keeps its type; ``vector_type`` picks one) with an HNSW index by default (``ivfflat`` or
``flat`` = none), cosine distance by default (``l2``, ``inner_product``), vectors sent in
pgvector's binary format. Up to ``exact_threshold`` stored vectors (5,000 by default, judged
from the table's size) a query is ranked exactly by one sequential top-N scan; above it through
the index with ``hnsw.ef_search`` set for the query's transaction (``max(ef_search, 4 * (limit
+ offset))``, 64 by default) and, on pgvector >= 0.8, iterative scans so filters apply during
the scan. The exact scan answers instead when the index comes back short or its answer looks
like noise (:meth:`PostgresDialect.trusts`). Without pgvector everything but
``search(query=...)`` works.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from waypoint.errors import ConfigError, SerializationError, SetupError
from waypoint.store._hybrid import keyword_language, tokenize
from waypoint.store._sql.pgvector_sql import (
    OPCLASS,
    PgVector,
    PgVectorSearch,
    VectorConfig,
    vector_config,
)
from waypoint.store._sql.dialect import (
    COLUMNS,
    UPSERT_TAIL,
    Execute,
    Fetch,
    SqlParams,
    StoreDialect,
    dump_json,
)

logger = logging.getLogger("waypoint.store")

_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
"""A JSON-escaped NUL (``\\u0000`` not itself behind an escaping backslash)."""

SETUP_LOCK_KEY = 0x57505354  # "WPST": serializes concurrent store setups in one database

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS waypoint_store (
  prefix text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  value jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  expires_at timestamptz,
  ttl_minutes double precision,
  PRIMARY KEY (prefix, key))""",
        """CREATE INDEX IF NOT EXISTS waypoint_store_expires_at ON waypoint_store (expires_at)
  WHERE expires_at IS NOT NULL""",
    ),
    # 1: the keyword index of hybrid stores (NULL for items put without keyword text)
    ("ALTER TABLE waypoint_store ADD COLUMN IF NOT EXISTS kw tsvector",),
    # 2: listings newest first stop after the page (an incremental sort over this index)
    ("CREATE INDEX IF NOT EXISTS waypoint_store_updated_at ON waypoint_store (updated_at)",),
)

UPSERT = (
    "INSERT INTO waypoint_store "
    "(prefix, key, value, created_at, updated_at, expires_at, ttl_minutes) "
    "VALUES (?, ?, ?::jsonb, ?, ?, ?, ?)" + UPSERT_TAIL + ",\n  kw = NULL"
)
UPSERT_MANY = (
    "INSERT INTO waypoint_store "
    "(prefix, key, value, created_at, updated_at, expires_at, ttl_minutes) "
    "SELECT r.p, r.k, r.v::jsonb, %s, %s, r.e, r.t FROM unnest("
    "%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::float8[]) AS r(p, k, v, e, t)"
    + UPSERT_TAIL.replace("%", "%%") + ",\n  kw = NULL"
)
DELETE_VECTORS_MANY = (
    "DELETE FROM waypoint_store_vectors WHERE (prefix, key) IN "
    "(SELECT * FROM unnest(%b::text[], %b::text[]))"
)
KEYWORD_INDEX = "CREATE INDEX IF NOT EXISTS waypoint_store_kw ON waypoint_store USING gin (kw)"
KEYWORD_SET = "UPDATE waypoint_store SET kw = to_tsvector({config}, ?) WHERE prefix = ? AND key = ?"
KEYWORD_QUERY = (
    "SELECT {columns}, ts_rank_cd(s.kw, to_tsquery({config}, ?)) AS score FROM waypoint_store AS s "
    "WHERE s.kw @@ to_tsquery({config}, ?) AND {where} "
    "ORDER BY score DESC, s.updated_at DESC, {ns_order}, s.key LIMIT ? OFFSET ?"
)
_CONFIG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

class PostgresDialect(PgVectorSearch, StoreDialect):
    """PostgreSQL: ``%s`` placeholders, JSONB operators, pgvector for queries."""

    name = "postgres"
    placeholder = "%s"

    keyword_search = True
    single_read_mode = True

    def __init__(self, index: Mapping[str, Any] | None = None) -> None:
        self.dims = index["dims"] if index else None
        self.language = keyword_language(index)
        if self.language is not None and not _CONFIG_NAME.fullmatch(self.language):
            raise ConfigError(
                f"index language={self.language!r}: use the name of a PostgreSQL text search "
                "configuration, e.g. 'english', 'simple', 'german' (SELECT cfgname FROM pg_ts_config)"
            )
        self.vec = vector_config(index) if index else None
        self.pgvector: tuple[int, ...] | None = None
        self.can_query = True  # known after setup
        self.vector_type = "vector"  # the table's, known after setup
        if self.vec is not None:
            self.exact_threshold = self.vec.exact_threshold

    def migrations(self) -> Sequence[Sequence[str]]:
        return MIGRATIONS

    def setup_lock(self) -> Sequence[Any]:
        return [Execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK_KEY,))]

    def unavailable_message(self) -> str:
        return (
            "search(query=...) needs the pgvector extension, which this PostgreSQL server does "
            "not provide. Install pgvector on the server and run CREATE EXTENSION vector; in "
            "this database (or use a server that ships it, e.g. the pgvector/pgvector Docker "
            "image), then reopen the store. Everything else works without it."
        )

    def after_setup(self) -> Generator[Any, Any, None]:
        rows = yield Fetch("SELECT to_regclass('waypoint_store_vectors') IS NOT NULL")
        self.has_vector_table = bool(rows[0][0])
        if self.language is not None:
            yield from self._setup_keywords()
        if self.vec is None:
            self.vector_strategy = None
            return
        version = yield from self._ensure_pgvector()
        if version is None:
            self.can_query, self.vector_strategy = False, None
            logger.warning("pgvector is not available: %s", self.unavailable_message())
            return
        self.pgvector, self.can_query = version, True
        vec = self.vec
        rows = yield Fetch(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass('waypoint_store_vectors') AND attname = 'embedding'"
        )
        existing = rows[0][0] if rows else None
        vector_type = vec.vector_type or (
            existing.split("(")[0] if existing else "halfvec" if self.dims <= 4000 else "vector"
        )
        self.vector_type = vector_type
        column = f"{vector_type}({self.dims})"
        if existing is not None and existing != column:
            raise SetupError(
                f"this database stores embeddings as {existing} but the index asks for {column}; "
                "keep the original dims/vector_type, or use a new database for the new model"
            )
        yield Execute(
            "CREATE TABLE IF NOT EXISTS waypoint_store_vectors (\n"
            '  prefix text COLLATE "C" NOT NULL,\n  key text COLLATE "C" NOT NULL,\n'
            f"  seq integer NOT NULL,\n  field text NOT NULL,\n  embedding {column} NOT NULL,\n"
            "  PRIMARY KEY (prefix, key, seq),\n  FOREIGN KEY (prefix, key) REFERENCES "
            "waypoint_store (prefix, key) ON DELETE CASCADE)"
        )
        self.has_vector_table = True
        opclass = f"{vector_type}_{OPCLASS[vec.distance]}"
        if vec.kind == "hnsw":
            params = f"m = {vec.m}, ef_construction = {vec.ef_construction}"
            name = f"waypoint_store_vectors_hnsw_{opclass}_{vec.m}_{vec.ef_construction}"
        elif vec.kind == "ivfflat":
            params, name = f"lists = {vec.lists}", f"waypoint_store_vectors_ivf_{opclass}_{vec.lists}"
        else:
            self.vector_strategy = "sql"
            return
        yield Execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON waypoint_store_vectors "
            f"USING {vec.kind} (embedding {opclass}) WITH ({params})"
        )
        self.vector_strategy = "ann"

    def _setup_keywords(self) -> Generator[Any, Any, None]:
        """Check the text search configuration, then the GIN index over ``kw``."""
        found = yield Fetch("SELECT cfgname FROM pg_ts_config WHERE lower(cfgname) = lower(%s)",
                            (self.language,))
        if not found:
            raise SetupError(
                f"index language={self.language!r}: this PostgreSQL server has no such text "
                "search configuration (SELECT cfgname FROM pg_ts_config lists them; 'simple' "
                "only lower-cases)"
            )
        config = f"'{found[0][0]}'::regconfig"  # a name the server listed, checked above
        self.keyword_insert = KEYWORD_SET.format(config=config)
        self.keyword_config = config
        yield Execute(KEYWORD_INDEX)

    def keyword_text(self, texts: list[str]) -> str:
        """The words of the texts (``_hybrid.tokenize``), space-separated: PostgreSQL's own
        parser would read ``ERR-4711`` as ``err`` and ``-4711``, missing a query for 4711."""
        return " ".join(tokenize(" ".join(texts)))

    def keyword_query(
        self, where: str, params: list[Any], terms: Sequence[str], limit: int, offset: int,
    ) -> SqlParams:
        """Items whose ``kw`` has any of ``terms`` (stemmed by the configuration), ranked by
        ``ts_rank_cd``; the terms are ``\\w+`` words, each quoted as a tsquery operand."""
        query = " | ".join(f"'{term}'" for term in terms)
        sql = KEYWORD_QUERY.format(columns=COLUMNS, config=self.keyword_config, where=where,
                                   ns_order=self.ns_order("s.prefix"))
        return self.q(sql), [query, query, *params, limit, offset]

    def _ensure_pgvector(self) -> Generator[Any, Any, tuple[int, ...] | None]:
        installed = yield Fetch("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        if not installed:
            available = yield Fetch("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
            if not available:
                return None
            yield Execute("CREATE EXTENSION IF NOT EXISTS vector")
            installed = yield Fetch("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        return tuple(int(p) for p in installed[0][0].split(".")[:3] if p.isdigit())

    # --- encodings ------------------------------------------------------------------------

    def decode_time(self, raw: Any) -> datetime:
        return raw.astimezone(timezone.utc) if isinstance(raw, datetime) else datetime.fromisoformat(raw)

    def upsert(self) -> str:
        return UPSERT

    def put_params(
        self, prefix: str, namespace: tuple[str, ...], key: str, value: str, created: Any,
        expires: Any, ttl: float | None,
    ) -> tuple[Any, ...]:
        if "\\u0000" in value and _JSON_NUL.search(value):
            raise SerializationError(
                f"store value for key {key!r} in namespace {namespace!r} holds a NUL character "
                "(\\x00), which PostgreSQL's jsonb cannot store; remove it or encode the text "
                "(the in-memory, SQLite and MongoDB stores keep it)"
            )
        return (prefix, key, value, created, created, expires, ttl)

    def upsert_many(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """One statement over arrays (``unnest``) instead of one per row: a batch of 500
        puts costs the server one statement. Arrays go in binary (``%b``): psycopg escapes
        every quote of a text array's JSON elements with a regex, ~25 µs per value."""
        if len(rows) == 1:
            return super().upsert_many(rows)
        columns = list(zip(*rows))  # put_params: prefix, key, value, created, created, expires, ttl
        stamp = rows[0][3]
        return [Execute(UPSERT_MANY, (stamp, stamp, list(columns[0]), list(columns[1]),
                                      list(columns[2]), list(columns[5]),
                                      [None if t is None else float(t) for t in columns[6]]))]

    def delete_vectors_many(self, items: list[tuple[str, str]]) -> list[Any]:
        return [Execute(DELETE_VECTORS_MANY, ([i[0] for i in items], [i[1] for i in items]))]

    # --- filters ----------------------------------------------------------------------------

    @staticmethod
    def _at(path: tuple[str, ...]) -> SqlParams:
        """The JSON at ``path``, stepping only into objects: ``->`` with a text operand gives
        NULL on an array, so ``"tags.0"`` names a key ``"0"``, never an array index (``#>``
        with a path array would index arrays by numeric segments)."""
        return "(s.value" + " -> ?::text" * len(path) + ")", list(path)

    def present(self, path: tuple[str, ...]) -> SqlParams:
        at, params = self._at(path)
        return f"{at} IS NOT NULL", params

    def equals(self, path: tuple[str, ...], value: Any) -> SqlParams:
        at, params = self._at(path)
        return f"{at} = ?::jsonb", [*params, dump_json(value)]

    def equals_any(self, path: tuple[str, ...], values: list[Any]) -> SqlParams:
        at, params = self._at(path)
        return f"{at} = ANY(?::jsonb[])", [*params, [dump_json(v) for v in values]]

    def compare(self, path: tuple[str, ...], op: str, value: Any) -> SqlParams:
        at, params = self._at(path)
        if isinstance(value, str):
            sql = f"CASE WHEN jsonb_typeof({at}) = 'string' THEN ({at} #>> '{{}}') COLLATE \"C\" {op} ? ELSE FALSE END"
        else:
            sql = f"CASE WHEN jsonb_typeof({at}) = 'number' THEN ({at})::numeric {op} ?::numeric ELSE FALSE END"
        return sql, [*params, *params, value]

    # --- namespaces ---------------------------------------------------------------------------

    def label_is(self, index: int, label: str) -> SqlParams:
        return "split_part(s.prefix, '.', ?) = ?", [index + 1 if index >= 0 else index, label]

    def depth_at_least(self, depth: int) -> SqlParams:
        return "array_length(string_to_array(s.prefix, '.'), 1) >= ?", [depth]

    def head(self, depth: int) -> SqlParams:
        return "array_to_string((string_to_array(s.prefix, '.'))[1:?::integer], '.')", [depth]

    def ns_order(self, expr: str) -> str:
        return f"replace({expr}, '.', chr(1)) COLLATE \"C\""

    def get_many(self, keys: Sequence[tuple[str, str]]) -> SqlParams:
        sql = "(s.prefix, s.key) IN (SELECT * FROM unnest(?::text[], ?::text[]))"
        return sql, [[k[0] for k in keys], [k[1] for k in keys]]


__all__ = ["PgVector", "PostgresDialect", "VectorConfig", "vector_config"]
