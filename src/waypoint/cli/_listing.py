"""The thread listing and the statistics, in time independent of the number of threads.

``threads`` reads one keyset page from the backend's thread summary (``_walk.summaries``: a few
indexed queries per page on SQL and MongoDB); its ``bytes`` are the bytes the database stores
for each thread of the page (checkpoint rows, values, log chunks, pending writes). ``stats``
answers from the database's own counters and sizes; ``stats_scan`` is the exact report of
serialized payload (per thread, per channel, per day) that reads every checkpoint once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from waypoint.checkpoint.base import BaseCheckpointSaver
from waypoint.cli._inspect import ids, next_nodes, scan
from waypoint.cli._urls import CliError
from waypoint.errors import CheckpointReadError


def encode_cursor(newest_id: str, thread_id: str) -> str:
    """The keyset of the next page: ``NEWEST_CHECKPOINT_ID:THREAD_ID``."""
    return f"{newest_id}:{thread_id}"


def decode_cursor(cursor: str | None) -> tuple[str, str] | None:
    if not cursor:
        return None
    newest, sep, thread_id = cursor.partition(":")
    if not sep or not newest:
        raise CliError(f"malformed --after cursor {cursor!r} (expected NEWEST_CHECKPOINT_ID:THREAD_ID from a previous page)")
    return newest, thread_id


def summary_row(s: Any) -> dict[str, Any]:
    """A thread summary (``_summary.ThreadSummary``) as the ``threads`` command shows it."""
    t = s.latest
    meta = dict(t.metadata or {}) if t is not None else {}
    return {
        "thread_id": s.thread_id, "checkpoints": s.checkpoints, "namespaces": s.namespaces,
        "latest_checkpoint_id": ids(t)[2] if t is not None else "",
        "latest_step": meta.get("step") if t is not None else None,
        "next": list(next_nodes(t)) if t is not None else [],
        "updated_at": str(t.checkpoint.get("ts", "")) if t is not None else "",
        "bytes": s.bytes,
    }


def threads(
    saver: BaseCheckpointSaver,
    filter: Mapping[str, Any] | None = None,
    damaged: Any = None,
    *,
    after: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of thread summaries, most recently updated first, and the cursor of the next
    page (None on the last). With ``filter``, only threads with at least one checkpoint whose
    metadata matches (counts cover the whole thread). The database pages by keyset: the cost
    is the page's, whatever the number of threads (``offset`` skips rows, at their cost).
    Threads whose newest row is corrupt are left out and noted in ``damaged``."""
    from waypoint.cli._walk import Damaged, summaries

    damaged = Damaged() if damaged is None else damaged
    key = decode_cursor(after)
    out: list[dict[str, Any]] = []
    skip = offset
    while True:
        want = skip + limit + 1 - len(out)
        page = summaries(saver, after=key, limit=min(max(want, 1), 1000), filter=filter)
        for s in page:
            key = (s.newest_id, s.thread_id)
            if s.error is not None:
                if isinstance(s.error, CheckpointReadError):
                    damaged.add(s.error, s.thread_id)
                    continue
                raise s.error
            if skip:
                skip -= 1
                continue
            out.append(summary_row(s) | {"_key": key})
            if len(out) > limit:
                break
        if len(out) > limit or len(page) < min(max(want, 1), 1000):
            break
    more = len(out) > limit
    out = out[:limit]
    cursor = encode_cursor(*out[-1]["_key"]) if more and out else None
    for row in out:
        del row["_key"]
    return out, cursor


def count_threads(saver: BaseCheckpointSaver, filter: Mapping[str, Any] | None = None) -> int:
    """The exact number of threads (matching ``filter``): an index-only count without a filter
    on SQL and MongoDB; with one, every thread is checked (one ``EXISTS`` each in one SQL
    statement; page by page on other backends)."""
    from waypoint.cli._replace import backend_kind
    from waypoint.cli._walk import summaries

    kind = backend_kind(saver)
    if kind == "sql":
        from waypoint.checkpoint._sql import threads as sql_threads
        from waypoint.checkpoint._sql.requests import READ

        op = sql_threads.count_threads(saver.dialect, dict(filter) if filter else None)  # type: ignore[attr-defined]
        return saver._call(op, READ, "count_threads")  # type: ignore[attr-defined, no-any-return]
    if not filter and kind == "mongodb":
        from waypoint.checkpoint.mongodb import _threads

        return saver._run(_threads.count_threads(saver._ctx))  # type: ignore[attr-defined, no-any-return]
    n, key = 0, None
    while page := summaries(saver, after=key, limit=1000, filter=filter):
        n += len(page)
        key = (page[-1].newest_id, page[-1].thread_id)
    return n


def stats(saver: BaseCheckpointSaver) -> dict[str, Any]:
    """Threads, checkpoints and the bytes the database holds for them, in time independent of
    the database's size: SQL and MongoDB answer from their own counters (``estimated`` says
    whether a figure may be approximate, ``source`` where it came from); other savers count."""
    from waypoint.cli._replace import backend_kind

    kind = backend_kind(saver)
    if kind == "sql":
        from waypoint.checkpoint._sql import threads as sql_threads
        from waypoint.checkpoint._sql.requests import READ

        return saver._call(sql_threads.storage_stats(saver.dialect), READ, "stats")  # type: ignore[attr-defined, no-any-return]
    if kind == "mongodb":
        from waypoint.checkpoint.mongodb import _threads

        return saver._run(_threads.storage_stats(saver._ctx))  # type: ignore[attr-defined, no-any-return]
    if kind == "memory":
        with saver._lock:  # type: ignore[attr-defined]
            nss = [n for n in saver._ids.values() if any(n.values())]  # type: ignore[attr-defined]
            checkpoints = sum(len(ids_) for n in nss for ids_ in n.values())
        return {"estimated": False, "source": "the in-memory saver's index", "threads": len(nss), "checkpoints": checkpoints, "storage_bytes": None}
    rows = [ids(t) for t in saver.list(None)]
    return {"estimated": False, "source": "one pass over list(None)", "threads": len({r[0] for r in rows}), "checkpoints": len(rows), "storage_bytes": None}


def stats_scan(saver: BaseCheckpointSaver, top: int = 10, days: int = 14, damaged: Any = None) -> dict[str, Any]:
    """Exact totals of serialized payload, bytes per thread and per channel, the largest
    threads, and daily growth, over the threads without corrupt rows (those are noted in
    ``damaged``): one pass over every checkpoint of the database."""
    from waypoint.cli._walk import Damaged, tuples

    damaged = Damaged() if damaged is None else damaged
    # per thread first, so a thread found damaged midway drops out of every total
    per_thread: dict[str, list[Any]] = defaultdict(lambda: [0, 0, defaultdict(int), defaultdict(lambda: [0, 0])])
    for row in scan(tuples(saver, damaged), saver.serde):
        acc = per_thread[row.thread_id]
        acc[0] += 1
        acc[1] += row.bytes
        for ch, n in row.channel_bytes.items():
            acc[2][ch] += n
        if row.write_bytes:
            acc[2]["(pending writes)"] += row.write_bytes
        day = acc[3][row.ts[:10]]
        day[0] += 1
        day[1] += row.bytes
    per_channel: dict[str, int] = defaultdict(int)
    per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for thread_id in [t for t in per_thread if t in damaged]:
        del per_thread[thread_id]
    for _, _, channels, days_of in per_thread.values():
        for ch, n in channels.items():
            per_channel[ch] += n
        for d, (c, b) in days_of.items():
            per_day[d][0] += c
            per_day[d][1] += b
    cutoff = (datetime.now(timezone.utc) - timedelta(days=days)).date().isoformat()
    largest = sorted(per_thread.items(), key=lambda kv: (-kv[1][1], kv[0]))[:top]
    return {
        "threads": len(per_thread),
        "checkpoints": sum(v[0] for v in per_thread.values()),
        "bytes": sum(v[1] for v in per_thread.values()),
        "largest_threads": [{"thread_id": k, "checkpoints": v[0], "bytes": v[1]} for k, v in largest],
        "channels": [{"channel": k, "bytes": v} for k, v in sorted(per_channel.items(), key=lambda kv: (-kv[1], kv[0])) if v],
        "growth": [{"day": d, "checkpoints": v[0], "bytes": v[1]} for d, v in sorted(per_day.items()) if d >= cutoff],
    }


__all__ = ["count_threads", "decode_cursor", "encode_cursor", "stats", "stats_scan", "summary_row", "threads"]
