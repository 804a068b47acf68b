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
import math
import re
import struct
from collections.abc import Generator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple

from waypoint.errors import ConfigError, SerializationError, SetupError
from waypoint.store._hybrid import keyword_language, tokenize
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
)

UPSERT = (
    "INSERT INTO waypoint_store "
    "(prefix, key, value, created_at, updated_at, expires_at, ttl_minutes) "
    "VALUES (?, ?, ?::jsonb, ?, ?, ?, ?)" + UPSERT_TAIL + ",\n  kw = NULL"
)
KEYWORD_INDEX = "CREATE INDEX IF NOT EXISTS waypoint_store_kw ON waypoint_store USING gin (kw)"
KEYWORD_SET = "UPDATE waypoint_store SET kw = to_tsvector({config}, ?) WHERE prefix = ? AND key = ?"
KEYWORD_QUERY = (
    "SELECT {columns}, ts_rank_cd(s.kw, to_tsquery({config}, ?)) AS score FROM waypoint_store AS s "
    "WHERE s.kw @@ to_tsquery({config}, ?) AND {where} "
    "ORDER BY score DESC, s.updated_at DESC, {ns_order}, s.key LIMIT ? OFFSET ?"
)
_CONFIG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

class PgVector(bytes):
    """A vector in pgvector's binary input format; the PostgreSQL driver sends it as a binary
    parameter of unknown type, typed by the statement's cast (``%s::halfvec``)."""


def _header(dims: int) -> bytes:
    return struct.pack(">hh", dims, 0)


_OPS = {"cosine": "<=>", "l2": "<->", "inner_product": "<#>"}
_OPCLASS = {"cosine": "cosine_ops", "l2": "l2_ops", "inner_product": "ip_ops"}


class VectorConfig(NamedTuple):
    """The pgvector part of an index config, validated (every field is safe in DDL).
    ``vector_type`` None: keep an existing table's type, else ``halfvec`` (``vector`` past
    4,000 dims, where halfvec cannot be indexed)."""

    kind: str = "hnsw"
    vector_type: str | None = None
    distance: str = "cosine"
    m: int = 16
    ef_construction: int = 64
    ef_search: int = 64
    lists: int = 100
    probes: int = 10
    exact_threshold: int = 5_000
    exact_fallback: bool = True


def _positive_int(raw: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where} {key}={value!r}: use a positive int")
    return value


def vector_config(index: Mapping[str, Any]) -> VectorConfig:
    """Validate ``ann_index_config``, ``distance_type`` and ``exact_threshold`` of an index."""
    ann = index.get("ann_index_config") or {}
    if not isinstance(ann, Mapping):
        raise ConfigError(f"index ann_index_config must be a dict, got {ann!r}")
    kind = ann.get("kind", "hnsw")
    if kind not in ("hnsw", "ivfflat", "flat"):
        raise ConfigError(f"ann_index_config kind={kind!r}: use 'hnsw', 'ivfflat' or 'flat'")
    vector_type = ann.get("vector_type")
    if vector_type not in (None, "vector", "halfvec"):
        raise ConfigError(f"ann_index_config vector_type={vector_type!r}: use 'vector' or 'halfvec'")
    distance = index.get("distance_type", "cosine")
    if distance not in _OPS:
        raise ConfigError(f"index distance_type={distance!r}: use 'cosine', 'l2' or 'inner_product'")
    where = "ann_index_config"
    defaults = VectorConfig._field_defaults
    threshold = ann.get("exact_threshold", index.get("exact_threshold", defaults["exact_threshold"]))
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0:
        raise ConfigError(f"index exact_threshold={threshold!r}: use an int >= 0")
    fallback = ann.get("exact_fallback", True)
    if not isinstance(fallback, bool):
        raise ConfigError(f"ann_index_config exact_fallback={fallback!r}: use True or False")
    return VectorConfig(
        kind, vector_type, distance,
        m=_positive_int(ann, "m", 16, where),
        ef_construction=_positive_int(ann, "ef_construction", 64, where),
        ef_search=min(_positive_int(ann, "ef_search", defaults["ef_search"], where), 1000),
        lists=_positive_int(ann, "lists", ann.get("nlist", 100), where),
        probes=_positive_int(ann, "probes", 10, where),
        exact_threshold=threshold,
        exact_fallback=fallback,
    )


class PostgresDialect(StoreDialect):
    """PostgreSQL: ``%s`` placeholders, JSONB operators, pgvector for queries."""

    name = "postgres"
    placeholder = "%s"

    keyword_search = True

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
        opclass = f"{vector_type}_{_OPCLASS[vec.distance]}"
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

    def vector_param(self, vector: Sequence[float]) -> "PgVector":
        return self.vector_params([vector])[0]

    def vector_params(self, vectors: Sequence[Sequence[float]]) -> list["PgVector"]:
        """pgvector's binary input format, all at once: ``int16`` dims, ``int16`` 0, then big
        endian ``float4`` (vector) or ``float2`` (halfvec) values. Sent as binary parameters,
        this is ~10x cheaper than a list adapted as ``real[]`` (psycopg's list dumper takes
        milliseconds per 384-dim vector)."""
        import numpy as np

        dtype = ">f2" if self.vector_type == "halfvec" else ">f4"
        matrix = np.asarray(vectors, dtype=np.float64)
        if matrix.ndim != 2:  # ragged: mixed lengths, refused by the server with its own error
            return [PgVector(_header(len(v)) + np.asarray(v, dtype=dtype).tobytes()) for v in vectors]
        with np.errstate(over="ignore"):  # out of range for halfvec: inf, which pgvector refuses
            data = matrix.astype(dtype)
        header = _header(matrix.shape[1])
        return [PgVector(header + row.tobytes()) for row in data]

    def vector_cast(self) -> str:
        return f"?::{self.vector_type}"

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

    # --- vectors -------------------------------------------------------------------------------

    def _distance(self, column: str) -> str:
        assert self.vec is not None
        return f"({column} {_OPS[self.vec.distance]} {self.vector_cast()})"

    def _similarity(self, distance: str) -> str:
        """Higher is closer: 1 - cosine distance (NaN for zero vectors -> 0), -L2, inner product."""
        assert self.vec is not None
        if self.vec.distance == "cosine":
            return f"coalesce(nullif(1 - {distance}, 'NaN'::float8), 0)"
        return f"(-{distance})"

    def score(self, query: Sequence[float]) -> SqlParams:
        sql = (
            f"(SELECT max({self._similarity(self._distance('v.embedding'))}) "
            "FROM waypoint_store_vectors AS v WHERE v.prefix = s.prefix AND v.key = s.key)"
        )
        return sql, [self.vector_param(query)]

    def ann_settings(self, wanted: int) -> list[Any]:
        """Per-query index settings (transaction-local), in one statement."""
        assert self.vec is not None
        iterative = self.pgvector is not None and self.pgvector >= (0, 8)
        if self.vec.kind == "hnsw":
            ef = str(min(max(self.vec.ef_search, 4 * wanted), 1000))
            if iterative:
                return [Execute("SELECT set_config('hnsw.ef_search', %s, true), "
                                "set_config('hnsw.iterative_scan', 'relaxed_order', true)", (ef,))]
            return [Execute("SELECT set_config('hnsw.ef_search', %s, true)", (ef,))]
        probes = str(min(self.vec.probes, self.vec.lists))
        if iterative:
            return [Execute("SELECT set_config('ivfflat.probes', %s, true), "
                            "set_config('ivfflat.iterative_scan', 'relaxed_order', true)", (probes,))]
        return [Execute("SELECT set_config('ivfflat.probes', %s, true)", (probes,))]

    def vector_count(self) -> tuple[str, list[Any]]:
        """About how many vectors are stored, from the table's size on disk (no scan; dead rows
        count until vacuumed, which only errs towards the index, whose short answers fall back
        to the exact scan)."""
        width = (self.dims or 1) * (2 if self.vector_type == "halfvec" else 4) + 64
        return "SELECT pg_relation_size('waypoint_store_vectors') / %s", [width]

    def ann_query(
        self, where: str, params: list[Any], query: Sequence[float], fetch: int, exact: bool = False
    ) -> tuple[str, list[Any]]:
        """The nearest ``fetch`` vectors among the candidates' (exact: a top-N sequential scan of
        the vectors of candidate items, the ``+ 0`` keeping the planner off the index; else
        through the index, filters applied during the scan), grouped per item and ranked; each
        row ends with the number of vectors found and, for :meth:`trusts`, the mean similarity
        of the query to a sample of stored vectors."""
        distance = self._distance("v.embedding")
        q = self.vector_param(query)
        if exact:
            hits = (
                f"SELECT v.prefix, v.key, {distance} AS d FROM waypoint_store_vectors AS v "
                "WHERE EXISTS (SELECT 1 FROM waypoint_store AS s WHERE s.prefix = v.prefix AND "
                f"s.key = v.key AND {where}) ORDER BY {distance} + 0 LIMIT ?"
            )
            hit_params = [q, *params, q, fetch]
        else:
            hits = (
                f"SELECT v.prefix, v.key, {distance} AS d "
                "FROM waypoint_store_vectors AS v WHERE (SELECT "
                f"{where} FROM waypoint_store AS s WHERE s.prefix = v.prefix AND s.key = v.key) "
                f"ORDER BY {distance} LIMIT ?"
            )
            hit_params = [q, *params, q, fetch]
        reference, ref_params = "NULL::float8", []
        if not exact and self._checks_contrast():
            reference = (
                f"(SELECT avg({self._similarity(self._distance('r.embedding'))}) FROM (SELECT "
                f"embedding FROM waypoint_store_vectors LIMIT {_SAMPLE}) AS r)"
            )
            ref_params = [q]
        sql = (
            f"WITH hits AS MATERIALIZED ({hits}) "
            f"SELECT {COLUMNS}, best.score, (SELECT count(*) FROM hits), {reference} FROM "
            f"(SELECT h.prefix, h.key, max({self._similarity('h.d')}) AS score FROM hits AS h "
            "GROUP BY h.prefix, h.key) AS best JOIN waypoint_store AS s "
            "ON s.prefix = best.prefix AND s.key = best.key "
            f"ORDER BY best.score DESC, s.updated_at DESC, {self.ns_order('s.prefix')}, s.key"
        )
        return self.q(sql), [*hit_params, *ref_params]

    def _checks_contrast(self) -> bool:
        return bool(self.vec and self.vec.exact_fallback and self.vec.distance == "cosine")

    def trusts(self, rows: Sequence[Sequence[Any]], wanted: int, stored: int) -> bool:
        """Whether an approximate answer stands, or the query should be ranked exactly.

        An HNSW graph finds neighbours reliably when they are clearly closer to the query than
        the bulk of the data. Among ``n`` random directions in ``d`` dims the closest lies about
        ``sqrt(2 ln n / d)`` above the mean cosine similarity; when the ``wanted``-th result is
        no further above the query's mean similarity to a sample of stored vectors, the
        neighbourhood looks like noise, graph search misses much of the true top-k (recall@10
        0.5-0.7 on random vectors), and the exact scan answers instead. Cosine distance only."""
        if not rows or not self._checks_contrast() or rows[0][8] is None:
            return True
        kth = rows[min(wanted, len(rows)) - 1][6]
        noise = math.sqrt(2 * math.log(max(stored, 2)) / (self.dims or 1))
        return bool(kth - rows[0][8] > noise)


_SAMPLE = 64  # stored vectors compared with the query to judge an approximate answer


__all__ = ["PgVector", "PostgresDialect", "VectorConfig", "vector_config"]
