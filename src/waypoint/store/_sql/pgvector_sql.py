"""pgvector search for the PostgreSQL store: the index config, the binary vector encoding,
and the ranking statements (exact scan, approximate index, and when to trust the index).

Mixed into ``PostgresDialect`` (``postgres_sql.py``), which supplies ``vec`` (the validated
:class:`VectorConfig`), ``dims``, ``vector_type`` (the table's, known after setup),
``pgvector`` (the extension's version) and the statement helpers ``q``/``ns_order``.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from waypoint.errors import ConfigError
from waypoint.store._sql.dialect import COLUMNS, Execute, SqlParams

class PgVector(bytes):
    """A vector in pgvector's binary input format; the PostgreSQL driver sends it as a binary
    parameter of unknown type, typed by the statement's cast (``%s::halfvec``)."""


def _header(dims: int) -> bytes:
    return struct.pack(">hh", dims, 0)


_OPS = {"cosine": "<=>", "l2": "<->", "inner_product": "<#>"}
OPCLASS = {"cosine": "cosine_ops", "l2": "l2_ops", "inner_product": "ip_ops"}


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



class PgVectorSearch:
    """The vector half of the PostgreSQL dialect."""

    vec: VectorConfig | None
    vector_type: str
    pgvector: tuple[int, ...] | None

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

    _count: tuple[float, int] | None = None

    def known_vector_count(self) -> int | None:
        """The last :meth:`vector_count` if read less than a second ago (saves a round trip
        per query; the estimate only picks exact or index search)."""
        if self._count is not None and time.monotonic() - self._count[0] < _COUNT_TTL:
            return self._count[1]
        return None

    def remember_vector_count(self, count: int) -> None:
        self._count = (time.monotonic(), int(count))

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
        trusted = bool(kth - rows[0][8] > noise)
        self._distrust = 0.8 * self._distrust + (0.0 if trusted else 0.2)
        return trusted

    _distrust = 0.0  # moving average of distrusted index answers (recent ones weigh most)
    _skipped = 0

    def skips_index(self) -> bool:
        """Whether to rank exactly without asking the index first: while most recent index
        answers were distrusted (data without neighbourhood structure), the index search is
        wasted work; every ``_PROBE``-th query still asks it, so the store notices when the
        data or the queries change."""
        if self._distrust <= 0.5:
            return False
        self._skipped += 1
        return self._skipped % _PROBE != 0


_PROBE = 8  # while distrusting the index, one query in this many still asks it
_COUNT_TTL = 1.0  # seconds a vector count estimate is reused
_SAMPLE = 64  # stored vectors compared with the query to judge an approximate answer


__all__ = ["PgVector", "PgVectorSearch", "VectorConfig", "vector_config"]
