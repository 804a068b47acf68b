"""PostgreSQL's part of the SQL core: DDL, the tuples query, JSONB filters and sweeps.

Key columns use the "C" collation so ``ORDER BY checkpoint_id`` is byte order (the order ids
are generated in) and the primary-key index serves it. Metadata is JSONB with a GIN index
(``jsonb_path_ops``) that ``list(filter=...)`` uses through ``@>`` containment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from waypoint.checkpoint._sql.dialect import SORT_KEY, Dialect
from waypoint.checkpoint._sql.threads import POSTGRES_MIGRATION

_T = 'TEXT COLLATE "C" NOT NULL'

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""CREATE TABLE IF NOT EXISTS waypoint_checkpoints (
  thread_id {_T},
  checkpoint_ns {_T} DEFAULT '',
  checkpoint_id {_T},
  parent_checkpoint_id TEXT COLLATE "C",
  type TEXT NOT NULL,
  checkpoint BYTEA NOT NULL,
  channel_versions JSONB NOT NULL,
  metadata JSONB NOT NULL,
  metadata_type TEXT,
  metadata_blob BYTEA,
  run_id TEXT COLLATE "C",
  PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
)""",
        """CREATE INDEX IF NOT EXISTS waypoint_checkpoints_metadata
  ON waypoint_checkpoints USING gin (metadata jsonb_path_ops)""",
        """CREATE INDEX IF NOT EXISTS waypoint_checkpoints_run_id
  ON waypoint_checkpoints (run_id) WHERE run_id IS NOT NULL""",
        f"""CREATE TABLE IF NOT EXISTS waypoint_blobs (
  thread_id {_T},
  checkpoint_ns {_T} DEFAULT '',
  channel {_T},
  version {_T},
  type TEXT NOT NULL,
  blob BYTEA,
  log_lineage TEXT COLLATE "C",
  log_length INTEGER,
  PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
)""",
        f"""CREATE TABLE IF NOT EXISTS waypoint_lineages (
  thread_id {_T},
  checkpoint_ns {_T} DEFAULT '',
  lineage_id {_T},
  chain JSONB NOT NULL,
  length INTEGER NOT NULL,
  PRIMARY KEY (thread_id, checkpoint_ns, lineage_id)
)""",
        f"""CREATE TABLE IF NOT EXISTS waypoint_log_pages (
  thread_id {_T},
  checkpoint_ns {_T} DEFAULT '',
  lineage_id {_T},
  page INTEGER NOT NULL,
  type TEXT NOT NULL,
  items BYTEA NOT NULL,
  PRIMARY KEY (thread_id, checkpoint_ns, lineage_id, page)
)""",
        f"""CREATE TABLE IF NOT EXISTS waypoint_writes (
  thread_id {_T},
  checkpoint_ns {_T} DEFAULT '',
  checkpoint_id {_T},
  task_id {_T},
  idx INTEGER NOT NULL,
  channel {_T},
  type TEXT NOT NULL,
  blob BYTEA,
  task_path {_T} DEFAULT '',
  PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
)""",
    ),
    # 2: log pages (one row per page number, rewritten at every append) become log chunks
    # (one row per first item, appended; see log.py's chunk mode). Old page n held own items
    # from n * 64 on (64 was the page size of that format).
    (
        f"""CREATE TABLE IF NOT EXISTS waypoint_log_chunks (
  thread_id {_T},
  checkpoint_ns {_T} DEFAULT '',
  lineage_id {_T},
  first_item INTEGER NOT NULL,
  type TEXT NOT NULL,
  items BYTEA NOT NULL,
  PRIMARY KEY (thread_id, checkpoint_ns, lineage_id, first_item)
)""",
        """INSERT INTO waypoint_log_chunks
  (thread_id, checkpoint_ns, lineage_id, first_item, type, items)
SELECT thread_id, checkpoint_ns, lineage_id, page * 64, type, items FROM waypoint_log_pages""",
        "DROP TABLE waypoint_log_pages",
    ),
    # 3: thread leases (one writer per thread); expires_at in Unix seconds
    (
        f"""CREATE TABLE IF NOT EXISTS waypoint_leases (
  thread_id {_T} PRIMARY KEY,
  token BIGINT NOT NULL,
  holder TEXT NOT NULL,
  expires_at DOUBLE PRECISION NOT NULL
)""",
    ),
    # 4: the thread summary table (kept by triggers) and the recency indexes (threads.py)
    POSTGRES_MIGRATION,
    # 5: row format 2 (compact.py): item-log references move into the checkpoint row
    ("ALTER TABLE waypoint_checkpoints ADD COLUMN IF NOT EXISTS logs JSONB",),
)


def tuples_sql(where: str) -> str:
    """Checkpoints matching ``where`` (newest first, ``LIMIT %s``) with everything they need,
    in one statement: one round trip for ``get_tuple`` and for each page of ``list``."""
    return f"""
WITH sel AS MATERIALIZED (
  SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint,
    channel_versions, metadata, metadata_type, metadata_blob, logs
  FROM waypoint_checkpoints WHERE {where} ORDER BY {SORT_KEY} LIMIT %s
),
blobs AS MATERIALIZED (  -- keys only: a large value is read once, by the final SELECT
  SELECT s.thread_id, s.checkpoint_ns, s.checkpoint_id, b.channel, b.version, b.type,
    CASE WHEN b.type = 'logref' THEN b.blob END AS ref, b.log_lineage, b.log_length
  FROM sel AS s CROSS JOIN LATERAL jsonb_each_text(  -- a malformed row yields no blobs
    CASE WHEN jsonb_typeof(s.channel_versions) = 'object' THEN s.channel_versions ELSE '{{}}' END
  ) AS v(channel, version)
  CROSS JOIN LATERAL (
    SELECT * FROM waypoint_blobs AS b WHERE b.thread_id = s.thread_id
      AND b.checkpoint_ns = s.checkpoint_ns AND b.channel = v.channel AND b.version = v.version
    OFFSET 0) AS b  -- OFFSET 0: keep this one primary-key lookup per channel version
),
refs AS (
  SELECT DISTINCT thread_id, checkpoint_ns, log_lineage, log_length FROM blobs
  WHERE log_lineage IS NOT NULL
  UNION
  SELECT s.thread_id, s.checkpoint_ns, r.value ->> 0, (r.value ->> 1)::int
  FROM sel AS s CROSS JOIN LATERAL jsonb_each(
    CASE WHEN jsonb_typeof(s.logs) = 'object' THEN s.logs ELSE '{{}}' END) AS r
),
lins AS MATERIALIZED (
  SELECT l.thread_id, l.checkpoint_ns, l.lineage_id, l.chain, l.length
  FROM (SELECT DISTINCT thread_id, checkpoint_ns, log_lineage FROM refs) AS r
  CROSS JOIN LATERAL (
    SELECT * FROM waypoint_lineages AS l WHERE l.thread_id = r.thread_id
      AND l.checkpoint_ns = r.checkpoint_ns AND l.lineage_id = r.log_lineage OFFSET 0) AS l
),
levels AS (
  SELECT r.thread_id, r.checkpoint_ns, e.value ->> 0 AS lid, (e.value ->> 1)::int AS start,
    LEAST(r.log_length, COALESCE((l.chain -> e.ord::int ->> 1)::int, r.log_length)) AS stop
  FROM refs AS r
  JOIN lins AS l ON l.thread_id = r.thread_id AND l.checkpoint_ns = r.checkpoint_ns
    AND l.lineage_id = r.log_lineage
  CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(l.chain) = 'array' THEN l.chain ELSE '[]' END) WITH ORDINALITY AS e(value, ord)
),
wrefs AS (  -- pending writes stored as references to log items
  SELECT w.thread_id, w.checkpoint_ns, w.ref ->> 0 AS lid,
    (w.ref ->> 1)::int + (w.ref ->> 2)::int AS nitems
  FROM sel AS s CROSS JOIN LATERAL (
    SELECT w.thread_id, w.checkpoint_ns, convert_from(w.blob, 'UTF8')::jsonb AS ref
    FROM waypoint_writes AS w WHERE w.thread_id = s.thread_id
      AND w.checkpoint_ns = s.checkpoint_ns AND w.checkpoint_id = s.checkpoint_id
      AND w.type = 'logref' OFFSET 0) AS w
  UNION ALL  -- inputs stored as references to log items
  SELECT b.thread_id, b.checkpoint_ns, b.ref ->> 0, (b.ref ->> 1)::int + (b.ref ->> 2)::int
  FROM (SELECT thread_id, checkpoint_ns, convert_from(ref, 'UTF8')::jsonb AS ref FROM blobs
    WHERE ref IS NOT NULL) AS b
),
need AS (
  SELECT thread_id, checkpoint_ns, lid, max(nitems) AS nitems FROM (
    SELECT thread_id, checkpoint_ns, lid, stop - start AS nitems FROM levels WHERE stop > start
    UNION ALL
    SELECT thread_id, checkpoint_ns, lid, nitems FROM wrefs) AS n
  GROUP BY thread_id, checkpoint_ns, lid
)
SELECT 'c'::text, thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id,
  channel_versions::text, metadata::text, NULL::bigint, type, checkpoint, metadata_type,
  metadata_blob, logs::text FROM sel
UNION ALL
SELECT 'b', thread_id, checkpoint_ns, checkpoint_id, channel, version, log_lineage, log_length,
  type, (SELECT x.blob FROM waypoint_blobs AS x WHERE x.thread_id = blobs.thread_id
    AND x.checkpoint_ns = blobs.checkpoint_ns AND x.channel = blobs.channel
    AND x.version = blobs.version), NULL, NULL, NULL FROM blobs
UNION ALL
SELECT 'w', w.thread_id, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.channel, w.task_path,
  w.idx, w.type, w.blob, NULL, NULL, NULL
FROM sel AS s CROSS JOIN LATERAL (
  SELECT * FROM waypoint_writes AS w WHERE w.thread_id = s.thread_id
    AND w.checkpoint_ns = s.checkpoint_ns AND w.checkpoint_id = s.checkpoint_id OFFSET 0) AS w
UNION ALL
SELECT 'l', thread_id, checkpoint_ns, NULL, lineage_id, chain::text, NULL, length, NULL, NULL,
  NULL, NULL, NULL FROM lins
UNION ALL
SELECT 'p', p.thread_id, p.checkpoint_ns, NULL, p.lineage_id, NULL, NULL, p.first_item, p.type,
  p.items, NULL, NULL, NULL
FROM need AS n CROSS JOIN LATERAL (
  SELECT * FROM waypoint_log_chunks AS p WHERE p.thread_id = n.thread_id
    AND p.checkpoint_ns = n.checkpoint_ns AND p.lineage_id = n.lid AND p.first_item < n.nitems
  OFFSET 0) AS p"""


def filter_prefix(filter_json: str) -> tuple[str, list[Any]]:
    """Containment on the whole filter: lets the GIN index narrow the rows first."""
    return "metadata @> %s::jsonb", [filter_json]


def metadata_filter(key: str, value_json: str, is_container: bool) -> tuple[str, list[Any]] | None:
    """Exact equality of one top-level key. For a scalar, containment already is equality
    (``{"a": [1, 2]} @> {"a": 1}`` is false), so only objects and arrays, where containment
    would accept supersets, get an extra check; keeping scalars to ``@>`` alone also keeps
    the planner's row estimates (and so its index choice) sound."""
    if not is_container:
        return None
    return "metadata -> %s::text = %s::jsonb", [key, value_json]


PRUNE_BLOBS = """
DELETE FROM waypoint_blobs WHERE thread_id = %s
  AND (checkpoint_ns, channel, version) NOT IN (
    SELECT c.checkpoint_ns, v.key, v.value
    FROM waypoint_checkpoints AS c CROSS JOIN LATERAL jsonb_each_text(c.channel_versions) AS v
    WHERE c.thread_id = %s)"""

PRUNE_LINEAGES = """
DELETE FROM waypoint_lineages WHERE thread_id = %s
  AND (checkpoint_ns, lineage_id) NOT IN (
    SELECT l.checkpoint_ns, e.value ->> 0
    FROM (
      SELECT thread_id, checkpoint_ns, log_lineage AS lineage_id FROM waypoint_blobs
      WHERE thread_id = %s AND log_lineage IS NOT NULL
      UNION
      SELECT c.thread_id, c.checkpoint_ns, r.value ->> 0
      FROM waypoint_checkpoints AS c CROSS JOIN LATERAL jsonb_each(c.logs) AS r
      WHERE c.thread_id = %s AND c.logs IS NOT NULL
      UNION
      SELECT thread_id, checkpoint_ns, convert_from(blob, 'UTF8')::jsonb ->> 0
      FROM waypoint_writes WHERE thread_id = %s AND type = 'logref'
      UNION
      SELECT thread_id, checkpoint_ns, convert_from(blob, 'UTF8')::jsonb ->> 0
      FROM waypoint_blobs WHERE thread_id = %s AND type = 'logref') AS b
    JOIN waypoint_lineages AS l ON l.thread_id = b.thread_id
      AND l.checkpoint_ns = b.checkpoint_ns AND l.lineage_id = b.lineage_id
    CROSS JOIN LATERAL jsonb_array_elements(l.chain) AS e(value))"""

DELETE_RUNS = (
    """DELETE FROM waypoint_writes AS w USING waypoint_checkpoints AS c
WHERE c.run_id = ANY(%s) AND w.thread_id = c.thread_id
  AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id""",
    "DELETE FROM waypoint_checkpoints WHERE run_id = ANY(%s)",
)


def _run_ids(run_ids: Sequence[str]) -> list[str]:
    return [str(r) for r in run_ids]


POSTGRES = Dialect(
    name="postgres",
    placeholder="%s",
    migrations=MIGRATIONS,
    tuples_sql=tuples_sql,
    metadata_filter=metadata_filter,
    filter_prefix=filter_prefix,
    lock_base=" FOR UPDATE OF l",
    setup_lock="SELECT pg_advisory_xact_lock(%s)",
    prune_blobs=PRUNE_BLOBS,
    prune_lineages=PRUNE_LINEAGES,
    delete_runs=DELETE_RUNS,
    run_ids_param=_run_ids,
    now="extract(epoch FROM clock_timestamp())::float8",
    lease_commit="SET LOCAL synchronous_commit = off",
)

__all__ = ["POSTGRES"]
