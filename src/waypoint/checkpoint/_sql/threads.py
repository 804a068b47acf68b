"""Thread listings that cost the same at 100 threads and at 1,000,000: the schema that makes
them indexed, and the page operation the CLI's ``threads`` and the web inspector read.

``waypoint_threads`` holds one row per thread: its id and its newest checkpoint id (any
namespace). Database triggers keep it exact whatever writes the checkpoints table (``put``,
``copy_thread``, imports, ``prune``, ``delete_thread``, ``delete_for_runs``), so the put path
carries no extra statement. An index on (checkpoint_id, thread_id) serves "most recently
updated first" by keyset; a second index on the checkpoints table, (checkpoint_id, thread_id,
checkpoint_ns), serves cross-thread ``list(None, limit=N)`` in O(N).

A page is six indexed queries whatever the page size: the page's thread ids (from the summary
table, with the metadata filter as an ``EXISTS`` per candidate), each thread's newest root
checkpoint row (values not read), checkpoint and namespace counts, the stored bytes of the
page's threads, the pending writes' channels of those checkpoints, and the values of their
trigger channels (edges, barriers, sends: a few bytes each) so ``next`` is exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from waypoint._ops import Op
from waypoint.checkpoint._sql.codec import EMPTY_TYPE, Where, decode_blob_row, decode_checkpoint_row
from waypoint.checkpoint._sql.dialect import Dialect, select_where
from waypoint.checkpoint._sql.requests import Fetch
from waypoint.checkpoint._summary import ThreadSummary, is_trigger
from waypoint.checkpoint.base import CheckpointTuple, make_config
from waypoint.checkpoint.log import LogRef

# --- schema (migration 4 of each dialect) ------------------------------------------------------

_BACKFILL = """INSERT INTO waypoint_threads (thread_id, checkpoint_id)
SELECT thread_id, max(checkpoint_id) FROM waypoint_checkpoints GROUP BY thread_id"""

SQLITE_MIGRATION: tuple[str, ...] = (
    """CREATE INDEX IF NOT EXISTS waypoint_checkpoints_recent
  ON waypoint_checkpoints (checkpoint_id, thread_id, checkpoint_ns)""",
    """CREATE TABLE IF NOT EXISTS waypoint_threads (
  thread_id TEXT PRIMARY KEY,
  checkpoint_id TEXT NOT NULL
) WITHOUT ROWID""",
    """CREATE INDEX IF NOT EXISTS waypoint_threads_recent
  ON waypoint_threads (checkpoint_id, thread_id)""",
    "DELETE FROM waypoint_threads",
    _BACKFILL,
    """CREATE TRIGGER IF NOT EXISTS waypoint_threads_put AFTER INSERT ON waypoint_checkpoints
BEGIN
  INSERT INTO waypoint_threads (thread_id, checkpoint_id) VALUES (NEW.thread_id, NEW.checkpoint_id)
  ON CONFLICT (thread_id) DO UPDATE SET checkpoint_id = excluded.checkpoint_id
  WHERE excluded.checkpoint_id > waypoint_threads.checkpoint_id;
END""",
    # a row's deletion recomputes the thread's newest only when it was the newest (a thread's
    # delete walks the key in order, so that happens about once per namespace)
    """CREATE TRIGGER IF NOT EXISTS waypoint_threads_drop AFTER DELETE ON waypoint_checkpoints
WHEN OLD.checkpoint_id >= (SELECT checkpoint_id FROM waypoint_threads WHERE thread_id = OLD.thread_id)
BEGIN
  DELETE FROM waypoint_threads WHERE thread_id = OLD.thread_id
    AND NOT EXISTS (SELECT 1 FROM waypoint_checkpoints WHERE thread_id = OLD.thread_id);
  UPDATE waypoint_threads SET checkpoint_id = (
    SELECT max(checkpoint_id) FROM waypoint_checkpoints WHERE thread_id = OLD.thread_id)
  WHERE thread_id = OLD.thread_id;
END""",
)

_PG_T = 'TEXT COLLATE "C" NOT NULL'

POSTGRES_MIGRATION: tuple[str, ...] = (
    """CREATE INDEX IF NOT EXISTS waypoint_checkpoints_recent
  ON waypoint_checkpoints (checkpoint_id, thread_id, checkpoint_ns)""",
    f"""CREATE TABLE IF NOT EXISTS waypoint_threads (
  thread_id {_PG_T} PRIMARY KEY,
  checkpoint_id {_PG_T}
)""",
    """CREATE INDEX IF NOT EXISTS waypoint_threads_recent
  ON waypoint_threads (checkpoint_id, thread_id)""",
    "DELETE FROM waypoint_threads",
    _BACKFILL,
    """CREATE OR REPLACE FUNCTION waypoint_threads_put() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO waypoint_threads AS t (thread_id, checkpoint_id)
  VALUES (NEW.thread_id, NEW.checkpoint_id)
  ON CONFLICT (thread_id) DO UPDATE SET checkpoint_id = excluded.checkpoint_id
  WHERE t.checkpoint_id < excluded.checkpoint_id;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS waypoint_threads_put ON waypoint_checkpoints",
    """CREATE TRIGGER waypoint_threads_put AFTER INSERT ON waypoint_checkpoints
  FOR EACH ROW EXECUTE FUNCTION waypoint_threads_put()""",
    # once per DELETE statement, over the threads it touched (a transition table)
    """CREATE OR REPLACE FUNCTION waypoint_threads_drop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM waypoint_threads AS t WHERE t.thread_id IN (SELECT thread_id FROM gone)
    AND NOT EXISTS (SELECT 1 FROM waypoint_checkpoints AS c WHERE c.thread_id = t.thread_id);
  UPDATE waypoint_threads AS t SET checkpoint_id = m.newest FROM (
    SELECT c.thread_id, max(c.checkpoint_id) AS newest FROM waypoint_checkpoints AS c
    WHERE c.thread_id IN (SELECT thread_id FROM gone) GROUP BY c.thread_id) AS m
  WHERE t.thread_id = m.thread_id AND t.checkpoint_id <> m.newest;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS waypoint_threads_drop ON waypoint_checkpoints",
    """CREATE TRIGGER waypoint_threads_drop AFTER DELETE ON waypoint_checkpoints
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION waypoint_threads_drop()""",
)

# --- a page of threads -------------------------------------------------------------------------

def _seek(d: Dialect, keys: Sequence[Sequence[Any]], table: str, on: str) -> tuple[str, list[Any]]:
    """``FROM`` the page's keys (a VALUES list, columns ``column1``... on both engines) joined
    to ``table`` as ``alias`` by ``on``, as one primary-key seek per key: SQLite keeps a CROSS
    JOIN's order; PostgreSQL gets a LATERAL subquery it cannot flatten (``OFFSET 0``), so it
    never trades the seeks for a hash join over the whole table."""
    p = d.placeholder
    row = "(" + ", ".join([p] * len(keys[0])) + ")"
    values = f"(VALUES {', '.join([row] * len(keys))}) AS k"
    name, alias = table.split()
    if d.name == "postgres":
        joined = f"{values} CROSS JOIN LATERAL (SELECT * FROM {name} AS {alias} WHERE {on} OFFSET 0) AS {alias}"
    else:
        joined = f"{values} CROSS JOIN {name} AS {alias} WHERE {on}"
    return joined, [v for key in keys for v in key]


def _sizes(d: Dialect) -> tuple[tuple[str, str], ...]:
    """(table, the stored bytes of one of its rows) for every table holding a thread's data."""
    pg = d.name == "postgres"
    n = "octet_length" if pg else "length"

    def text(column: str) -> str:
        return f"octet_length(CAST({column} AS TEXT))" if pg else f"length(CAST({column} AS BLOB))"

    return (
        ("waypoint_checkpoints", f"coalesce({n}(checkpoint), 0) + {text('metadata')} + {text('channel_versions')}"
         f" + coalesce({n}(metadata_blob), 0)"),
        ("waypoint_blobs", f"coalesce({n}(blob), 0)"),
        ("waypoint_writes", f"coalesce({n}(blob), 0)"),
        ("waypoint_log_chunks", f"coalesce({n}(items), 0)"),
    )


def thread_page(
    d: Dialect,
    serde: Any,
    *,
    after: tuple[str, str] | None = None,
    limit: int = 50,
    contains: str | None = None,
    filter: Mapping[str, Any] | None = None,
) -> Op[list[ThreadSummary]]:
    """Up to ``limit`` threads, most recently updated first, after the keyset ``after``
    ((newest checkpoint id, thread id) of the last thread already shown). ``contains`` keeps
    ids holding that text; ``filter`` threads with a checkpoint whose metadata matches."""
    p = d.placeholder
    conds: list[str] = []
    params: list[Any] = []
    if after is not None:
        conds.append(f"(t.checkpoint_id, t.thread_id) < ({p}, {p})")
        params.extend(after)
    if contains:
        conds.append(f"t.thread_id LIKE {p} ESCAPE '!'")
        params.append("%" + contains.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%")
    if filter:
        where, extra = select_where(d, filter=filter)
        conds.append(f"EXISTS (SELECT 1 FROM waypoint_checkpoints WHERE thread_id = t.thread_id AND {where})")
        params.extend(extra)
    rows = yield Fetch(
        f"SELECT t.thread_id, t.checkpoint_id FROM waypoint_threads AS t WHERE {' AND '.join(conds) or 'TRUE'} "
        f"ORDER BY t.checkpoint_id DESC, t.thread_id DESC LIMIT {p}",
        [*params, int(limit)],
    )
    page = [ThreadSummary(str(r[0]), str(r[1]), None) for r in rows]
    if not page:
        return page
    by_id = {s.thread_id: s for s in page}
    ids = [s.thread_id for s in page]
    in_page = f"thread_id IN ({', '.join([p] * len(ids))})"

    # each thread's newest root checkpoint: one backward index seek per thread
    joined, kparams = _seek(
        d, [(t,) for t in ids], "waypoint_checkpoints c",
        "c.thread_id = k.column1 AND c.checkpoint_ns = '' AND c.checkpoint_id = (SELECT max(m.checkpoint_id) "
        "FROM waypoint_checkpoints AS m WHERE m.thread_id = k.column1 AND m.checkpoint_ns = '')",
    )
    heads = yield Fetch(
        "SELECT 'c', c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, "
        "CAST(c.channel_versions AS TEXT), CAST(c.metadata AS TEXT), NULL, c.type, c.checkpoint, c.metadata_type, "
        f"c.metadata_blob FROM {joined}",
        kparams,
    )
    latest: dict[str, CheckpointTuple] = {}
    for row in heads:
        summary = by_id[str(row[1])]
        try:
            cp = decode_checkpoint_row(row, serde)
        except Exception as exc:  # a corrupt row: the page shows it, named
            summary.error = exc
            continue
        cid = cp.checkpoint["id"]
        if cp.inline:  # row format 2 keeps small values (trigger channels among them) in the row
            cp.checkpoint["channel_values"].update((ch, v) for ch, v in cp.inline.items() if is_trigger(ch))
        parent = make_config(summary.thread_id, "", cp.parent_id) if cp.parent_id else None
        latest[summary.thread_id] = CheckpointTuple(make_config(summary.thread_id, "", cid), cp.checkpoint, cp.metadata, parent, [])

    counts = yield Fetch(
        f"SELECT thread_id, count(*), count(DISTINCT checkpoint_ns) FROM waypoint_checkpoints WHERE {in_page} GROUP BY thread_id",
        ids,
    )
    for thread_id, n, namespaces in counts:
        by_id[str(thread_id)].checkpoints, by_id[str(thread_id)].namespaces = int(n), int(namespaces)

    parts = [f"SELECT thread_id, sum({size}) FROM {table} WHERE {in_page} GROUP BY thread_id" for table, size in _sizes(d)]
    for thread_id, n in (yield Fetch(" UNION ALL ".join(parts), ids * len(parts))):
        by_id[str(thread_id)].bytes += int(n or 0)

    keys = [(thread_id, "", t.checkpoint["id"]) for thread_id, t in latest.items()]
    if keys:
        joined, kparams = _seek(
            d, keys, "waypoint_writes w", "w.thread_id = k.column1 AND w.checkpoint_ns = k.column2 AND w.checkpoint_id = k.column3"
        )
        found = yield Fetch(
            f"SELECT w.thread_id, w.checkpoint_id, w.task_id, w.channel FROM {joined} "
            "ORDER BY w.thread_id, w.checkpoint_id, w.task_path, w.task_id, w.idx",
            kparams,
        )
        for thread_id, _cid, task_id, channel in found:
            latest[str(thread_id)].pending_writes.append((task_id, channel, None))  # type: ignore[union-attr]
        wanted = [
            (thread_id, "", ch, str(v)) for thread_id, t in latest.items()
            for ch, v in t.checkpoint["channel_versions"].items() if is_trigger(ch)
        ]
        if wanted:
            joined, bparams = _seek(
                d, wanted, "waypoint_blobs b",
                "b.thread_id = k.column1 AND b.checkpoint_ns = k.column2 AND b.channel = k.column3 AND b.version = k.column4",
            )
            blobs = yield Fetch(
                "SELECT 'b', b.thread_id, b.checkpoint_ns, NULL, b.channel, b.version, b.log_lineage, b.log_length, "
                f"b.type, b.blob FROM {joined}",
                bparams,
            )
            for row in blobs:
                t = latest[str(row[1])]
                where = Where(str(row[1]), "", t.checkpoint["id"])
                try:
                    value = decode_blob_row(row, serde, where)
                except Exception as exc:
                    by_id[str(row[1])].error = exc
                    continue
                if value is not EMPTY_TYPE and not isinstance(value, LogRef):
                    t.checkpoint["channel_values"][row[4]] = value
    for s in page:
        s.latest = latest.get(s.thread_id)
    return page


def count_threads(d: Dialect, filter: Mapping[str, Any] | None = None) -> Op[int]:
    """How many threads hold a checkpoint (an index-only count of the summary table), or hold
    one whose metadata matches ``filter`` (every thread checked: one ``EXISTS`` each)."""
    where, params = "TRUE", []
    if filter:
        inner, params = select_where(d, filter=filter)
        where = f"EXISTS (SELECT 1 FROM waypoint_checkpoints WHERE thread_id = t.thread_id AND {inner})"
    rows = yield Fetch(f"SELECT count(*) FROM waypoint_threads AS t WHERE {where}", params)
    return int(rows[0][0])


def storage_stats(d: Dialect) -> Op[dict[str, Any]]:
    """Threads, checkpoints and stored bytes from the database's own counters where exact
    figures would need a scan: PostgreSQL's planner statistics (``pg_class.reltuples``, kept by
    autovacuum/ANALYZE; exact counts while a table was never analyzed) and relation sizes;
    SQLite's index-only counts and the file's page count."""
    if d.name == "postgres":
        rows = yield Fetch(
            "SELECT c.relname, c.reltuples, pg_total_relation_size(c.oid) FROM pg_class AS c "
            "WHERE c.relkind = 'r' AND left(c.relname, 9) = 'waypoint_' "
            "AND c.relnamespace = to_regnamespace(current_schema())::oid"
        )
        tables = {str(name): (float(tuples), int(size)) for name, tuples, size in rows}
        out: dict[str, Any] = {"estimated": True, "source": "PostgreSQL statistics (pg_class.reltuples) and relation sizes"}
        for key, table in (("threads", "waypoint_threads"), ("checkpoints", "waypoint_checkpoints")):
            estimate = tables.get(table, (0.0, 0))[0]
            if estimate < 0:  # never analyzed: count exactly (small or new tables)
                out[key] = int((yield Fetch(f"SELECT count(*) FROM {table}"))[0][0])
                out["estimated"] = False
            else:
                out[key] = int(estimate)
        out["storage_bytes"] = sum(size for name, (_, size) in tables.items() if name != "waypoint_checkpoint_migrations")
        return out
    threads = int((yield Fetch("SELECT count(*) FROM waypoint_threads"))[0][0])
    checkpoints = int((yield Fetch("SELECT count(*) FROM waypoint_checkpoints INDEXED BY waypoint_checkpoints_recent"))[0][0])
    pages = (yield Fetch("PRAGMA page_count"))[0][0]
    size = (yield Fetch("PRAGMA page_size"))[0][0]
    return {
        "estimated": False, "source": "SQLite index counts and the database file's size",
        "threads": threads, "checkpoints": checkpoints, "storage_bytes": int(pages) * int(size),
    }

__all__ = ["POSTGRES_MIGRATION", "SQLITE_MIGRATION", "count_threads", "storage_stats", "thread_page"]
