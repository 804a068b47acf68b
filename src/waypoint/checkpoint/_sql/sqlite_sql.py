"""SQLite's part of the SQL core: DDL, the tuples query, JSON filters and sweeps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from waypoint.checkpoint._sql.dialect import SORT_KEY, Dialect
from waypoint.checkpoint._sql.threads import SQLITE_MIGRATION

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS waypoint_checkpoints (
  thread_id TEXT NOT NULL,
  checkpoint_ns TEXT NOT NULL DEFAULT '',
  checkpoint_id TEXT NOT NULL,
  parent_checkpoint_id TEXT,
  type TEXT NOT NULL,
  checkpoint BLOB NOT NULL,
  channel_versions TEXT NOT NULL,
  metadata TEXT NOT NULL,
  metadata_type TEXT,
  metadata_blob BLOB,
  run_id TEXT,
  PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
) WITHOUT ROWID""",
        """CREATE INDEX IF NOT EXISTS waypoint_checkpoints_run_id
  ON waypoint_checkpoints (run_id) WHERE run_id IS NOT NULL""",
        """CREATE TABLE IF NOT EXISTS waypoint_blobs (
  thread_id TEXT NOT NULL,
  checkpoint_ns TEXT NOT NULL DEFAULT '',
  channel TEXT NOT NULL,
  version TEXT NOT NULL,
  type TEXT NOT NULL,
  blob BLOB,
  log_lineage TEXT,
  log_length INTEGER,
  PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS waypoint_lineages (
  thread_id TEXT NOT NULL,
  checkpoint_ns TEXT NOT NULL DEFAULT '',
  lineage_id TEXT NOT NULL,
  chain TEXT NOT NULL,
  length INTEGER NOT NULL,
  PRIMARY KEY (thread_id, checkpoint_ns, lineage_id)
) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS waypoint_log_pages (
  thread_id TEXT NOT NULL,
  checkpoint_ns TEXT NOT NULL DEFAULT '',
  lineage_id TEXT NOT NULL,
  page INTEGER NOT NULL,
  type TEXT NOT NULL,
  items BLOB NOT NULL,
  PRIMARY KEY (thread_id, checkpoint_ns, lineage_id, page)
) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS waypoint_writes (
  thread_id TEXT NOT NULL,
  checkpoint_ns TEXT NOT NULL DEFAULT '',
  checkpoint_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  channel TEXT NOT NULL,
  type TEXT NOT NULL,
  blob BLOB,
  task_path TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
)""",
    ),
    # 2: log pages (one row per page number, rewritten at every append) become log chunks
    # (one row per first item, appended; see log.py's chunk mode). Old page n held own items
    # from n * 64 on (64 was the page size of that format).
    (
        """CREATE TABLE IF NOT EXISTS waypoint_log_chunks (
  thread_id TEXT NOT NULL,
  checkpoint_ns TEXT NOT NULL DEFAULT '',
  lineage_id TEXT NOT NULL,
  first_item INTEGER NOT NULL,
  type TEXT NOT NULL,
  items BLOB NOT NULL,
  PRIMARY KEY (thread_id, checkpoint_ns, lineage_id, first_item)
) WITHOUT ROWID""",
        """INSERT INTO waypoint_log_chunks
  (thread_id, checkpoint_ns, lineage_id, first_item, type, items)
SELECT thread_id, checkpoint_ns, lineage_id, page * 64, type, items FROM waypoint_log_pages""",
        "DROP TABLE waypoint_log_pages",
    ),
    # 3: thread leases (one writer per thread); expires_at in Unix seconds
    (
        """CREATE TABLE IF NOT EXISTS waypoint_leases (
  thread_id TEXT PRIMARY KEY,
  token INTEGER NOT NULL,
  holder TEXT NOT NULL,
  expires_at REAL NOT NULL
) WITHOUT ROWID""",
    ),
    # 4: the thread summary table (kept by triggers) and the recency indexes (threads.py)
    SQLITE_MIGRATION,
    # 5: row format 2 (compact.py): item-log references move into the checkpoint row; the
    # writes table keeps its rows in its primary key (no second copy of every key)
    (
        "ALTER TABLE waypoint_checkpoints ADD COLUMN logs TEXT",
        """CREATE TABLE waypoint_writes_v5 (
  thread_id TEXT NOT NULL,
  checkpoint_ns TEXT NOT NULL DEFAULT '',
  checkpoint_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  channel TEXT NOT NULL,
  type TEXT NOT NULL,
  blob BLOB,
  task_path TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
) WITHOUT ROWID""",
        """INSERT INTO waypoint_writes_v5 SELECT thread_id, checkpoint_ns, checkpoint_id, task_id,
  idx, channel, type, blob, task_path FROM waypoint_writes""",
        "DROP TABLE waypoint_writes",
        "ALTER TABLE waypoint_writes_v5 RENAME TO waypoint_writes",
    ),
    # 6: blob rows hold only large values (format 2): a rowid table with the value last, found
    # through its key index without loading it (a WITHOUT ROWID seek reads a whole overflowing
    # row to compare keys: a 10 MB value was read three times per get_state)
    (
        """CREATE TABLE waypoint_blobs_v6 (
  thread_id TEXT NOT NULL,
  checkpoint_ns TEXT NOT NULL DEFAULT '',
  channel TEXT NOT NULL,
  version TEXT NOT NULL,
  type TEXT NOT NULL,
  log_lineage TEXT,
  log_length INTEGER,
  blob BLOB,
  PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
)""",
        """INSERT INTO waypoint_blobs_v6 (thread_id, checkpoint_ns, channel, version, type,
  log_lineage, log_length, blob)
SELECT thread_id, checkpoint_ns, channel, version, type, log_lineage, log_length, blob
FROM waypoint_blobs""",
        "DROP TABLE waypoint_blobs",
        "ALTER TABLE waypoint_blobs_v6 RENAME TO waypoint_blobs",
    ),
    # 7: pending writes as a rowid table with the value last, for the reason of 6: a seek in
    # a WITHOUT ROWID table that lands beside a 10 MB write (the node's write of a large
    # state) read it whole, twice per get_state of the next checkpoint
    (
        """CREATE TABLE waypoint_writes_v7 (
  thread_id TEXT NOT NULL,
  checkpoint_ns TEXT NOT NULL DEFAULT '',
  checkpoint_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  channel TEXT NOT NULL,
  type TEXT NOT NULL,
  task_path TEXT NOT NULL DEFAULT '',
  blob BLOB,
  PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
)""",
        """INSERT INTO waypoint_writes_v7 (thread_id, checkpoint_ns, checkpoint_id, task_id, idx,
  channel, type, task_path, blob)
SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, task_path, blob
FROM waypoint_writes""",
        "DROP TABLE waypoint_writes",
        "ALTER TABLE waypoint_writes_v7 RENAME TO waypoint_writes",
    ),
)


LARGE = 1 << 18  # bytes: a larger blob comes back NULL and flagged, read by its own statement


def tuples_sql(where: str) -> str:
    """Checkpoints matching ``where`` (newest first, ``LIMIT ?``) with everything they need.

    A blob over ``LARGE`` bytes is flagged (column 10) instead of returned: fetched by a plain
    key lookup next, it is read once, where carrying it through this compound statement
    would copy it several times (a 10 MB array read 2-3x slower)."""
    return f"""
WITH sel AS MATERIALIZED (
  SELECT * FROM waypoint_checkpoints WHERE {where} ORDER BY {SORT_KEY} LIMIT ?
),
blobs AS MATERIALIZED (  -- keys only: a large value is read once, by the final SELECT
  -- (CASE reads a column stored after a large value only when needed: reaching it walks the
  -- value's overflow pages)
  SELECT s.thread_id, s.checkpoint_ns, s.checkpoint_id, b.channel, b.version, b.type,
    CASE WHEN b.type = 'logref' THEN b.blob END AS ref,
    CASE WHEN b.type = 'log' THEN b.log_lineage END AS log_lineage,
    CASE WHEN b.type = 'log' THEN b.log_length END AS log_length
  FROM sel AS s CROSS JOIN json_each(  -- a malformed row yields no blobs: decoded, it is named
    CASE WHEN json_valid(s.channel_versions) THEN s.channel_versions ELSE '{{}}' END) AS v
  CROSS JOIN waypoint_blobs AS b  -- CROSS JOIN fixes the order: one key lookup per version
  WHERE b.thread_id = s.thread_id AND b.checkpoint_ns = s.checkpoint_ns
    AND b.channel = v.key AND b.version = CAST(v.value AS TEXT)
),
refs AS (
  SELECT DISTINCT thread_id, checkpoint_ns, log_lineage, log_length FROM blobs
  WHERE log_lineage IS NOT NULL
  UNION
  SELECT s.thread_id, s.checkpoint_ns, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]')
  FROM sel AS s, json_each(CASE WHEN json_valid(s.logs) THEN s.logs ELSE '{{}}' END) AS r
),
lins AS MATERIALIZED (
  SELECT l.thread_id, l.checkpoint_ns, l.lineage_id, l.chain, l.length,
    CASE WHEN json_valid(l.chain) THEN l.chain ELSE '[]' END AS valid_chain
  FROM waypoint_lineages AS l
  WHERE (l.thread_id, l.checkpoint_ns, l.lineage_id) IN (
    SELECT thread_id, checkpoint_ns, log_lineage FROM refs)
),
levels AS (
  SELECT r.thread_id, r.checkpoint_ns, json_extract(e.value, '$[0]') AS lid,
    json_extract(e.value, '$[1]') AS start,
    min(r.log_length, coalesce(
      json_extract(l.valid_chain, '$[' || (e.key + 1) || '][1]'), r.log_length)) AS stop
  FROM refs AS r
  JOIN lins AS l ON l.thread_id = r.thread_id AND l.checkpoint_ns = r.checkpoint_ns
    AND l.lineage_id = r.log_lineage, json_each(l.valid_chain) AS e
),
wrefs AS (  -- pending writes stored as references to log items
  SELECT w.thread_id, w.checkpoint_ns, json_extract(CAST(w.blob AS TEXT), '$[0]') AS lid,
    json_extract(CAST(w.blob AS TEXT), '$[1]') + json_extract(CAST(w.blob AS TEXT), '$[2]') AS nitems
  FROM sel AS s CROSS JOIN waypoint_writes AS w ON w.thread_id = s.thread_id
    AND w.checkpoint_ns = s.checkpoint_ns AND w.checkpoint_id = s.checkpoint_id
  WHERE w.type = 'logref' AND json_valid(CAST(w.blob AS TEXT))
  UNION ALL  -- inputs stored as references to log items
  SELECT thread_id, checkpoint_ns, json_extract(CAST(blob AS TEXT), '$[0]'),
    json_extract(CAST(blob AS TEXT), '$[1]') + json_extract(CAST(blob AS TEXT), '$[2]')
  FROM (SELECT thread_id, checkpoint_ns, ref AS blob FROM blobs WHERE ref IS NOT NULL)
  WHERE json_valid(CAST(blob AS TEXT))
),
need AS (
  SELECT thread_id, checkpoint_ns, lid, max(nitems) AS nitems FROM (
    SELECT thread_id, checkpoint_ns, lid, stop - start AS nitems FROM levels WHERE stop > start
    UNION ALL
    SELECT thread_id, checkpoint_ns, lid, nitems FROM wrefs)
  GROUP BY thread_id, checkpoint_ns, lid
)
SELECT 'c', thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, channel_versions,
  metadata, NULL, type, checkpoint, metadata_type, metadata_blob, logs FROM sel
UNION ALL
SELECT 'b', thread_id, checkpoint_ns, checkpoint_id, channel, version, log_lineage, log_length,
  type, (SELECT CASE WHEN length(x.blob) <= {LARGE} THEN x.blob END FROM waypoint_blobs AS x
    WHERE x.thread_id = blobs.thread_id AND x.checkpoint_ns = blobs.checkpoint_ns
    AND x.channel = blobs.channel AND x.version = blobs.version),
  (SELECT length(x.blob) > {LARGE} FROM waypoint_blobs AS x
    WHERE x.thread_id = blobs.thread_id AND x.checkpoint_ns = blobs.checkpoint_ns
    AND x.channel = blobs.channel AND x.version = blobs.version), NULL, NULL FROM blobs
UNION ALL
SELECT 'w', w.thread_id, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.channel, w.task_path,
  w.idx, w.type, w.blob, NULL, NULL, NULL
FROM sel AS s CROSS JOIN waypoint_writes AS w ON w.thread_id = s.thread_id
  AND w.checkpoint_ns = s.checkpoint_ns AND w.checkpoint_id = s.checkpoint_id
UNION ALL
SELECT 'l', thread_id, checkpoint_ns, NULL, lineage_id, chain, NULL, length, NULL, NULL, NULL, NULL,
  NULL FROM lins
UNION ALL
SELECT 'p', p.thread_id, p.checkpoint_ns, NULL, p.lineage_id, NULL, NULL, p.first_item, p.type, p.items,
  NULL, NULL, NULL
FROM need AS n JOIN waypoint_log_chunks AS p ON p.thread_id = n.thread_id
  AND p.checkpoint_ns = n.checkpoint_ns AND p.lineage_id = n.lid AND p.first_item < n.nitems"""


def metadata_filter(key: str, value_json: str, is_container: bool) -> tuple[str, list[Any]]:
    """Top-level key equals value; the key is matched as a parameter, never a JSON path."""
    return (
        "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(waypoint_checkpoints.metadata)"
        " THEN waypoint_checkpoints.metadata ELSE '{}' END) AS m"
        " WHERE m.key = ? AND m.value IS json_extract(?, '$')"
        " AND (m.type IN ('object', 'array')) = ?)",
        [key, value_json, 1 if is_container else 0],
    )


PRUNE_BLOBS = """
DELETE FROM waypoint_blobs WHERE thread_id = ?
  AND (checkpoint_ns, channel, version) NOT IN (
    SELECT c.checkpoint_ns, v.key, CAST(v.value AS TEXT)
    FROM waypoint_checkpoints AS c, json_each(c.channel_versions) AS v WHERE c.thread_id = ?)"""

PRUNE_LINEAGES = """
DELETE FROM waypoint_lineages WHERE thread_id = ?
  AND (checkpoint_ns, lineage_id) NOT IN (
    SELECT l.checkpoint_ns, json_extract(e.value, '$[0]')
    FROM (
      SELECT thread_id, checkpoint_ns, log_lineage AS lineage_id FROM waypoint_blobs
      WHERE thread_id = ? AND log_lineage IS NOT NULL
      UNION
      SELECT c.thread_id, c.checkpoint_ns, json_extract(r.value, '$[0]')
      FROM waypoint_checkpoints AS c, json_each(c.logs) AS r
      WHERE c.thread_id = ? AND c.logs IS NOT NULL
      UNION
      SELECT thread_id, checkpoint_ns, json_extract(CAST(blob AS TEXT), '$[0]')
      FROM waypoint_writes WHERE thread_id = ? AND type = 'logref'
      UNION
      SELECT thread_id, checkpoint_ns, json_extract(CAST(blob AS TEXT), '$[0]')
      FROM waypoint_blobs WHERE thread_id = ? AND type = 'logref') AS b
    JOIN waypoint_lineages AS l ON l.thread_id = b.thread_id
      AND l.checkpoint_ns = b.checkpoint_ns AND l.lineage_id = b.lineage_id,
      json_each(l.chain) AS e)"""

_RUNS = "run_id IN (SELECT value FROM json_each(?))"
DELETE_RUNS = (
    f"""DELETE FROM waypoint_writes WHERE (thread_id, checkpoint_ns, checkpoint_id) IN (
  SELECT thread_id, checkpoint_ns, checkpoint_id FROM waypoint_checkpoints WHERE {_RUNS})""",
    f"DELETE FROM waypoint_checkpoints WHERE {_RUNS}",
)


def _run_ids(run_ids: Sequence[str]) -> str:
    return json.dumps([str(r) for r in run_ids])


SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    migrations=MIGRATIONS,
    tuples_sql=tuples_sql,
    metadata_filter=metadata_filter,
    filter_prefix=None,
    lock_base="",
    setup_lock=None,
    prune_blobs=PRUNE_BLOBS,
    prune_lineages=PRUNE_LINEAGES,
    delete_runs=DELETE_RUNS,
    run_ids_param=_run_ids,
    now="((julianday('now') - 2440587.5) * 86400.0)",
)

__all__ = ["SQLITE"]
