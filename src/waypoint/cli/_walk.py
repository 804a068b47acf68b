"""Walking every thread of a database when some of its rows are corrupt.

A saver's ``list`` raises ``CheckpointReadError`` (naming thread, namespace, checkpoint and
channel) when it reaches an undecodable row, after handing out the rows before it. The commands
that walk many threads (``threads``, ``stats``, ``export --all``, ``migrate``) must not stop
there: they note the damaged thread in a :class:`Damaged`, go on with the others, print the
damaged threads on stderr at the end and exit with status 1 (:func:`report`).

:func:`tuples` reads the whole database in one ``list(None)`` pass while nothing is wrong; after
the first corrupt row it goes on thread by thread (:func:`thread_ids` lists the ids without
decoding anything), skipping the rows it already handed out. Rows of a damaged thread that came
out before its corrupt one are the consumer's to drop (``Damaged`` says which threads).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import click

from waypoint.checkpoint._summary import ThreadSummary, is_trigger
from waypoint.checkpoint.base import BaseCheckpointSaver, CheckpointTuple, metadata_matches
from waypoint.cli._inspect import ids, thread_config
from waypoint.cli._replace import backend_kind
from waypoint.cli._urls import CliError
from waypoint.errors import CheckpointReadError, DisallowedTypeError


class Damaged:
    """Threads skipped because a row of theirs could not be decoded: id -> the error."""

    def __init__(self) -> None:
        self.errors: dict[str, CheckpointReadError] = {}

    def add(self, exc: CheckpointReadError, thread_id: str | None = None) -> None:
        self.errors.setdefault(str(thread_id if thread_id is not None else exc.thread_id), exc)

    def __contains__(self, thread_id: object) -> bool:
        return thread_id in self.errors

    def __bool__(self) -> bool:
        return bool(self.errors)


def thread_ids(saver: BaseCheckpointSaver) -> list[str]:
    """Every thread id of the saver, sorted, without decoding checkpoints where the backend
    allows (SQL, MongoDB, in-memory); other savers are walked through ``list(None)``."""
    kind = backend_kind(saver)
    if kind == "sql":
        from waypoint.checkpoint._sql import ops
        from waypoint.checkpoint._sql.requests import READ

        return saver._call(ops.list_thread_ids(saver.dialect), READ, "list_thread_ids")  # type: ignore[attr-defined, no-any-return]
    if kind == "mongodb":
        from waypoint.checkpoint.mongodb import _core

        return saver._run(_core.list_thread_ids(saver._ctx))  # type: ignore[attr-defined, no-any-return]
    if kind == "memory":
        with saver._lock:  # type: ignore[attr-defined]
            return sorted(t for t, namespaces in saver._ids.items() if any(namespaces.values()))  # type: ignore[attr-defined]
    return sorted({ids(t)[0] for t in saver.list(None)})


def thread_page(
    saver: BaseCheckpointSaver,
    *,
    after: str | None = None,
    limit: int = 50,
    contains: str | None = None,
    filter: Mapping[str, Any] | None = None,
) -> list[str]:
    """One page of thread ids in id order, after ``after`` (keyset paging done by the database
    on SQL and MongoDB, so 100,000 threads are never loaded); ``contains`` keeps ids holding
    that text, ``filter`` threads with a checkpoint whose metadata matches."""
    kind = backend_kind(saver)
    options = {"after": after, "limit": limit, "contains": contains or None, "filter": dict(filter) if filter else None}
    if kind == "sql":
        from waypoint.checkpoint._sql import ops
        from waypoint.checkpoint._sql.requests import READ

        return saver._call(ops.list_thread_ids(saver.dialect, **options), READ, "list_thread_ids")  # type: ignore[attr-defined, no-any-return]
    if kind == "mongodb":
        from waypoint.checkpoint.mongodb import _core

        return saver._run(_core.list_thread_ids(saver._ctx, **options))  # type: ignore[attr-defined, no-any-return]
    if filter:
        ids_ = sorted({ids(t)[0] for t in saver.list(None, filter=dict(filter))})
    else:
        ids_ = thread_ids(saver)
    return [t for t in ids_ if (after is None or t > after) and (not contains or contains in t)][:limit]


def summaries(
    saver: BaseCheckpointSaver,
    *,
    after: tuple[str, str] | None = None,
    limit: int = 50,
    contains: str | None = None,
    filter: Mapping[str, Any] | None = None,
) -> list[ThreadSummary]:
    """One page of threads, most recently updated first, after the keyset ``after`` (the
    ``(newest_id, thread_id)`` of the last thread shown). SQL and MongoDB read it from their
    thread summaries with a few indexed queries per page, whatever the number of threads;
    other savers are walked in memory."""
    kind = backend_kind(saver)
    options = {"after": after, "limit": limit, "contains": contains or None, "filter": dict(filter) if filter else None}
    if kind == "sql":
        from waypoint.checkpoint._sql import threads as sql_threads
        from waypoint.checkpoint._sql.requests import READ

        op = sql_threads.thread_page(saver.dialect, saver.serde, **options)  # type: ignore[attr-defined]
        return saver._call(op, READ, "thread_page")  # type: ignore[attr-defined, no-any-return]
    if kind == "mongodb":
        from waypoint.checkpoint.mongodb import _threads

        return saver._run(_threads.thread_page(saver._ctx, **options))  # type: ignore[attr-defined, no-any-return]
    return _summaries_in_memory(saver, **options)  # type: ignore[arg-type]


def _summaries_in_memory(
    saver: BaseCheckpointSaver, *, after: tuple[str, str] | None, limit: int, contains: str | None, filter: dict[str, Any] | None
) -> list[ThreadSummary]:
    """The same page for savers without a summary (in-memory: no I/O; others: one pass)."""
    from waypoint.cli._inspect import scan

    if backend_kind(saver) == "memory":
        with saver._lock:  # type: ignore[attr-defined]
            newest = {t: max(ids[-1] for ids in nss.values() if ids) for t, nss in saver._ids.items() if any(nss.values())}  # type: ignore[attr-defined]
    else:
        newest = {}
        for t in saver.list(None):
            thread_id, _, cid = ids(t)
            newest[thread_id] = max(newest.get(thread_id, ""), cid)
    order = sorted(((cid, t) for t, cid in newest.items()), reverse=True)
    out: list[ThreadSummary] = []
    for cid, thread_id in order:
        if len(out) >= limit:
            break
        if (after is not None and (cid, thread_id) >= after) or (contains and contains not in thread_id):
            continue
        rows = list(saver.list(thread_config(thread_id)))
        if filter and not any(metadata_matches(r.metadata or {}, filter) for r in rows):
            continue
        root = [r for r in rows if ids(r)[1] == ""]
        latest = None
        if root:  # as the databases give it: trigger channels' values only, writes without values
            cp = dict(root[0].checkpoint)
            cp["channel_values"] = {k: v for k, v in cp["channel_values"].items() if is_trigger(k)}
            latest = root[0]._replace(checkpoint=cp, pending_writes=[(w[0], w[1], None) for w in root[0].pending_writes or ()])
        out.append(ThreadSummary(
            thread_id, cid, latest, len(rows), len({ids(r)[1] for r in rows}), sum(r.bytes for r in scan(rows, saver.serde)),
        ))
    return out


def headers(saver: BaseCheckpointSaver, thread_id: str, ns: str = "", *, before: str | None = None, limit: int = 200) -> list[CheckpointTuple]:
    """A thread's newest ``limit`` checkpoints (older than ``before``) without their values:
    empty ``channel_values``, pending writes as ``(task_id, channel, None)``. SQL and MongoDB
    read no blob; other savers go through ``list``."""
    kind = backend_kind(saver)
    if kind == "sql":
        from waypoint.checkpoint._sql import ops
        from waypoint.checkpoint._sql.requests import READ

        op = ops.list_headers(saver.dialect, saver.serde, thread_id, ns, before=before, limit=limit)  # type: ignore[attr-defined]
        return saver._call(op, READ, "list_headers")  # type: ignore[attr-defined, no-any-return]
    if kind == "mongodb":
        from waypoint.checkpoint.mongodb import _core

        return saver._run(_core.list_headers(saver._ctx, thread_id, ns, before=before, limit=limit))  # type: ignore[attr-defined, no-any-return]
    before_config = thread_config(thread_id, ns, before) if before else None
    out = []
    for t in saver.list(thread_config(thread_id, ns), before=before_config, limit=limit):
        cp = dict(t.checkpoint)
        cp["channel_values"] = {}
        writes = [(task_id, ch, None) for task_id, ch, _ in t.pending_writes or ()]
        out.append(t._replace(checkpoint=cp, pending_writes=writes))
    return out


def tuples(saver: BaseCheckpointSaver, damaged: Damaged) -> Iterator[CheckpointTuple]:
    """Every checkpoint of every thread that can be read; damaged threads go to ``damaged``."""
    seen: set[tuple[str, str, str]] = set()
    try:
        for t in saver.list(None):
            seen.add(ids(t))
            yield t
        return
    except CheckpointReadError as exc:
        damaged.add(exc)
    for thread_id in thread_ids(saver):
        if thread_id in damaged:
            continue
        try:
            for t in saver.list(thread_config(thread_id)):
                if ids(t) not in seen:
                    yield t
        except CheckpointReadError as exc:
            damaged.add(exc, thread_id)


def report(damaged: Damaged) -> None:
    """Print each damaged thread on stderr and fail with status 1 (after the command's output)."""
    if not damaged:
        return
    for thread_id, exc in sorted(damaged.errors.items()):
        text = str(exc).strip().splitlines()
        click.echo(f"skipped thread {thread_id!r}: {type(exc).__name__}: {text[0] if text else ''}", err=True)
    typed = sorted({e.type_name for e in damaged.errors.values() if isinstance(e, DisallowedTypeError)})
    corrupt = len(damaged.errors) - sum(isinstance(e, DisallowedTypeError) for e in damaged.errors.values())
    parts = [f"{corrupt} with corrupt checkpoints"] if corrupt else []
    if typed:
        names = ", ".join(typed[:3]) + (", ..." if len(typed) > 3 else "")
        parts.append(f"{len(damaged.errors) - corrupt} holding types this command may not load ({names}: "
                     "start with -I MODULE, or --main PROGRAM.py for classes of a program's __main__)")
    raise CliError(f"{len(damaged.errors)} thread(s) could not be read and were skipped: {'; '.join(parts)}")


__all__ = ["Damaged", "headers", "report", "summaries", "thread_ids", "thread_page", "tuples"]
