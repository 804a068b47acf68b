"""The table layout's statements, written once, and the per-dialect parts.

Statements shared by SQLite and PostgreSQL are written here with ``?`` placeholders; a
:class:`Dialect` turns them into its own placeholder style. What differs (DDL, JSON functions,
row locks, the one-round-trip tuples query) lives in ``sqlite_sql.py`` / ``postgres_sql.py``.
No statement ever contains a user value: thread ids, namespaces, metadata filter keys and values
are always parameters.

Tables (every one keyed by thread first, so a thread's rows are contiguous):

- ``waypoint_checkpoints``  one row per checkpoint: body (serde), channel versions and
  metadata as JSON, parent id, ``run_id`` copied out for ``delete_for_runs``. Row format 2
  (``compact.py``) keeps every version, small values and empty channels in the body; the
  ``channel_versions`` column then lists only the channels stored as blob rows and ``logs``
  the item-log references (channel -> [lineage, length]). Format 1 rows (written before
  schema 4) list every version in ``channel_versions``, each with a blob row.
- ``waypoint_blobs``        one row per (thread, ns, channel, version) of a value too large to
  keep in the row; format 1: also log references (``log_lineage``, ``log_length``) and
  empty markers. A graph input ``{channel: [items]}`` whose items the next checkpoint
  appended to that channel's log becomes a reference to them (type ``logref``, blob
  ``[lineage, first own item, count, key]``).
- ``waypoint_lineages``     one row per item-log lineage: its chain (JSON) and length.
- ``waypoint_log_chunks``   serialized items of a lineage from ``first_item`` on: a whole page
  of ``PAGE_SIZE`` items, or the items one append added to a page still filling (log.py's
  chunk mode).
- ``waypoint_writes``       pending writes keyed by (thread, ns, checkpoint, task, idx). A
  write whose items the next checkpoint appended to an item log becomes a reference to them
  (type ``logref``, blob ``[lineage, first own item, count]``) when that checkpoint is put.
- ``waypoint_checkpoint_migrations``  applied schema versions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CHECKPOINT_COLUMNS = (
    "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, "
    "channel_versions, metadata, metadata_type, metadata_blob, run_id, logs"
)

INSERT_CHECKPOINT = f"""
INSERT INTO waypoint_checkpoints ({CHECKPOINT_COLUMNS})
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET
  parent_checkpoint_id = excluded.parent_checkpoint_id, type = excluded.type,
  checkpoint = excluded.checkpoint, channel_versions = excluded.channel_versions,
  metadata = excluded.metadata, metadata_type = excluded.metadata_type,
  metadata_blob = excluded.metadata_blob, run_id = excluded.run_id, logs = excluded.logs"""

# the parent a put builds on: its body, blob versions and log references (format 2)
SELECT_PARENT = """
SELECT type, checkpoint, CAST(channel_versions AS TEXT), CAST(logs AS TEXT)
FROM waypoint_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?"""

# a parent's pending writes to a log channel, and turning one into a reference to the log
WRITE_REF_TYPE = "logref"  # blob: json [lineage, first own item, count]
SELECT_PARENT_WRITES = """
SELECT task_id, idx, type, blob FROM waypoint_writes
WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? AND channel = ? AND type <> 'logref'"""

REF_WRITE = """
UPDATE waypoint_writes SET type = 'logref', blob = ?
WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? AND task_id = ? AND idx = ?"""

# the parent's input (``__start__``) blob, and turning it into a reference to the log
SELECT_BLOB = """
SELECT type, blob FROM waypoint_blobs
WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?"""

REF_BLOB = """
UPDATE waypoint_blobs SET type = 'logref', blob = ?
WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?"""

SELECT_LINEAGE = """
SELECT l.chain, l.length FROM waypoint_lineages AS l
WHERE l.thread_id = ? AND l.checkpoint_ns = ? AND l.lineage_id = ?"""

INSERT_BLOB = """
INSERT INTO waypoint_blobs
  (thread_id, checkpoint_ns, channel, version, type, blob, log_lineage, log_length)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING"""

SELECT_LOG_BASE = """
SELECT b.log_lineage, b.log_length, l.chain, l.length
FROM waypoint_blobs AS b
JOIN waypoint_lineages AS l ON l.thread_id = b.thread_id
  AND l.checkpoint_ns = b.checkpoint_ns AND l.lineage_id = b.log_lineage
WHERE b.thread_id = ? AND b.checkpoint_ns = ? AND b.channel = ? AND b.version = ?"""

INSERT_LINEAGE = """
INSERT INTO waypoint_lineages (thread_id, checkpoint_ns, lineage_id, chain, length)
VALUES (?, ?, ?, ?, ?)"""

EXTEND_LINEAGE = """
UPDATE waypoint_lineages SET length = ?
WHERE thread_id = ? AND checkpoint_ns = ? AND lineage_id = ? AND length = ?"""

UPSERT_CHUNK = """
INSERT INTO waypoint_log_chunks (thread_id, checkpoint_ns, lineage_id, first_item, type, items)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (thread_id, checkpoint_ns, lineage_id, first_item) DO UPDATE SET
  type = excluded.type, items = excluded.items"""

TRIM_CHUNKS = """
DELETE FROM waypoint_log_chunks WHERE thread_id = ? AND checkpoint_ns = ? AND lineage_id = ?
  AND first_item > ? AND first_item < ?"""

_WRITE_INSERT = """
INSERT INTO waypoint_writes
  (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)"""
INSERT_WRITE = _WRITE_INSERT + " DO NOTHING"
UPSERT_WRITE = _WRITE_INSERT + """ DO UPDATE SET
  channel = excluded.channel, type = excluded.type, blob = excluded.blob,
  task_path = excluded.task_path"""

TABLES = (
    "waypoint_writes",
    "waypoint_checkpoints",
    "waypoint_blobs",
    "waypoint_log_chunks",
    "waypoint_lineages",
)

DELETE_THREAD = tuple(f"DELETE FROM {table} WHERE thread_id = ?" for table in TABLES)

# copy_thread: params (target, source) each
COPY_THREAD = (
    f"""INSERT INTO waypoint_checkpoints ({CHECKPOINT_COLUMNS})
SELECT ?, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint,
  channel_versions, metadata, metadata_type, metadata_blob, run_id, logs
FROM waypoint_checkpoints WHERE thread_id = ?
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO NOTHING""",
    """INSERT INTO waypoint_blobs
  (thread_id, checkpoint_ns, channel, version, type, blob, log_lineage, log_length)
SELECT ?, checkpoint_ns, channel, version, type, blob, log_lineage, log_length
FROM waypoint_blobs WHERE thread_id = ?
ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING""",
    """INSERT INTO waypoint_lineages (thread_id, checkpoint_ns, lineage_id, chain, length)
SELECT ?, checkpoint_ns, lineage_id, chain, length FROM waypoint_lineages WHERE thread_id = ?
ON CONFLICT (thread_id, checkpoint_ns, lineage_id) DO UPDATE SET
  chain = excluded.chain, length = excluded.length""",
    """INSERT INTO waypoint_log_chunks
  (thread_id, checkpoint_ns, lineage_id, first_item, type, items)
SELECT ?, checkpoint_ns, lineage_id, first_item, type, items FROM waypoint_log_chunks
WHERE thread_id = ?
ON CONFLICT (thread_id, checkpoint_ns, lineage_id, first_item) DO UPDATE SET
  type = excluded.type, items = excluded.items""",
    """INSERT INTO waypoint_writes
  (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path)
SELECT ?, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path
FROM waypoint_writes WHERE thread_id = ?
ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO NOTHING""",
)

# prune: params (thread, thread, keep) then (thread) for the orphan sweeps
PRUNE_CHECKPOINTS = """
DELETE FROM waypoint_checkpoints WHERE thread_id = ? AND (checkpoint_ns, checkpoint_id) IN (
  SELECT checkpoint_ns, checkpoint_id FROM (
    SELECT checkpoint_ns, checkpoint_id, row_number() OVER (
      PARTITION BY checkpoint_ns ORDER BY checkpoint_id DESC) AS rn
    FROM waypoint_checkpoints WHERE thread_id = ?) AS ranked
  WHERE rn > ?)"""

PRUNE_WRITES = """
DELETE FROM waypoint_writes WHERE thread_id = ? AND NOT EXISTS (
  SELECT 1 FROM waypoint_checkpoints AS c WHERE c.thread_id = waypoint_writes.thread_id
    AND c.checkpoint_ns = waypoint_writes.checkpoint_ns
    AND c.checkpoint_id = waypoint_writes.checkpoint_id)"""

PRUNE_CHUNKS = """
DELETE FROM waypoint_log_chunks WHERE thread_id = ? AND NOT EXISTS (
  SELECT 1 FROM waypoint_lineages AS l WHERE l.thread_id = waypoint_log_chunks.thread_id
    AND l.checkpoint_ns = waypoint_log_chunks.checkpoint_ns
    AND l.lineage_id = waypoint_log_chunks.lineage_id)"""

# Thread leases (one writer per thread; see checkpoint/base/lease.py). ``{now}`` is the
# database clock as Unix seconds (``Dialect.now``). A token only grows: the next one is the old
# one plus one, but at least the clock in microseconds, so a thread deleted (its free lease row
# with it) and used again never hands out a token an earlier, still running run of it holds.
ACQUIRE_LEASE = """
INSERT INTO waypoint_leases (thread_id, token, holder, expires_at)
VALUES (?, CAST({now} * 1000000 AS BIGINT), ?, {now} + ?)
ON CONFLICT (thread_id) DO UPDATE SET
  token = CASE WHEN waypoint_leases.token >= excluded.token THEN waypoint_leases.token + 1
    ELSE excluded.token END,
  holder = excluded.holder, expires_at = excluded.expires_at
WHERE waypoint_leases.expires_at <= {now} OR waypoint_leases.holder = excluded.holder
RETURNING token, expires_at"""

SELECT_LEASE = "SELECT token, holder, expires_at, {now} FROM waypoint_leases WHERE thread_id = ?"

# the fence: renews the lease if (and only if) the token is still the thread's current one
FENCE_LEASE = """
UPDATE waypoint_leases SET expires_at = {now} + ? WHERE thread_id = ? AND token = ?
RETURNING expires_at"""

# delete_thread erases a lease that is free; a running run's lease stays (it keeps writing)
DELETE_FREE_LEASE = "DELETE FROM waypoint_leases WHERE thread_id = ? AND expires_at <= {now}"

RELEASE_LEASE = "UPDATE waypoint_leases SET expires_at = 0 WHERE thread_id = ? AND token = ?"

CREATE_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS waypoint_checkpoint_migrations (v INTEGER PRIMARY KEY)"
)
SELECT_MIGRATIONS = "SELECT v FROM waypoint_checkpoint_migrations"
INSERT_MIGRATION = "INSERT INTO waypoint_checkpoint_migrations (v) VALUES (?)"

SORT_KEY = "checkpoint_id DESC, thread_id DESC, checkpoint_ns DESC"


@dataclass(frozen=True)
class Dialect:
    """What one SQL engine needs beyond the shared statements.

    ``tuples_sql(where)`` returns the query that fetches up to ``LIMIT ?`` checkpoints matching
    ``where`` with their blobs, log lineages, log pages and pending writes, as rows of the
    shape documented in ``codec.py``. ``metadata_filter(key, value_json, is_container)``
    returns one filter condition and its parameters (None: ``filter_prefix`` already decides).
    """

    name: str
    placeholder: str
    migrations: tuple[tuple[str, ...], ...]
    tuples_sql: Callable[[str], str]
    metadata_filter: Callable[[str, str, bool], tuple[str, list[Any]] | None]
    filter_prefix: Callable[[str], tuple[str, list[Any]]] | None
    lock_base: str  # appended to SELECT_LOG_BASE inside a write (row lock) or ""
    setup_lock: str | None  # statement taking a transaction-scoped lock, param: key
    prune_blobs: str  # params (thread, thread)
    prune_lineages: str  # params (thread, thread, thread, thread, thread)
    delete_runs: tuple[str, ...]  # each with one param: the run ids
    run_ids_param: Callable[[Sequence[str]], Any]
    now: str = ""  # the database clock as Unix seconds (a float expression)
    # run first in a lease acquire or release transaction: its commit need not wait for the
    # disk (see leases.py); None where the engine has no such setting per transaction
    lease_commit: str | None = None

    def q(self, sql: str) -> str:
        """A shared statement in this dialect's placeholder style."""
        if self.placeholder == "?":
            return sql
        return sql.replace("%", "%%").replace("?", self.placeholder)

    def lease_sql(self, sql: str) -> str:
        """A lease statement with this dialect's clock and placeholders."""
        return self.q(sql).replace("{now}", self.now)


def select_where(
    d: Dialect,
    *,
    thread_id: str | None = None,
    checkpoint_ns: str | None = None,
    checkpoint_id: str | None = None,
    before_id: str | None = None,
    after: tuple[str, str, str] | None = None,
    filter: Mapping[str, Any] | None = None,
) -> tuple[str, list[Any]]:
    """The WHERE clause choosing checkpoints, with every value as a parameter.

    ``after`` is the (checkpoint_id, thread_id, checkpoint_ns) of the last row already
    returned: the keyset that pages a listing without OFFSET.
    """
    from waypoint.checkpoint._sql.codec import encode_filter_value
    from waypoint.store._sql.dialect import balanced

    p = d.placeholder
    conds: list[str] = []
    params: list[Any] = []
    for column, value in (("thread_id", thread_id), ("checkpoint_ns", checkpoint_ns), ("checkpoint_id", checkpoint_id)):
        if value is not None:
            conds.append(f"{column} = {p}")
            params.append(str(value))
    if before_id is not None:
        conds.append(f"checkpoint_id < {p}")
        params.append(str(before_id))
    if after is not None:
        conds.append(f"(checkpoint_id, thread_id, checkpoint_ns) < ({p}, {p}, {p})")
        params.extend(after)
    if filter:
        if d.filter_prefix is not None:
            sql, extra = d.filter_prefix(encode_filter_value(dict(filter)))
            conds.append(sql)
            params.extend(extra)
        for key, value in filter.items():
            cond = d.metadata_filter(str(key), encode_filter_value(value), isinstance(value, (dict, list, tuple)))
            if cond is not None:
                conds.append(cond[0])
                params.extend(cond[1])
    return (balanced(" AND ", conds) if conds else "TRUE"), params


__all__ = ["Dialect", "SORT_KEY", "select_where"]
