"""Retention: plans for ``prune`` and ``delete`` over the savers' public API.

``prune --keep-last N`` calls ``saver.prune(threads, keep_last=N)``: the newest N checkpoints
of every namespace of each thread stay, with everything they need (parents' blobs, log pages).
``prune --older-than DAYS`` counts, per thread, the checkpoints newer than the cutoff in each
namespace and keeps that many (the largest count over the thread's namespaces, at least 1, so a
thread's latest checkpoint always survives); it is the same ``prune`` call with that count.

``delete --metadata key=value`` erases whole threads: every thread with at least one checkpoint
whose metadata matches loses all its checkpoints, blobs and writes (``delete_thread``), since a
thread with holes in its history could not be read back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from waypoint.checkpoint.base import BaseCheckpointSaver
from waypoint.cli._inspect import checkpoint_counts, ids, thread_exists
from waypoint.cli._urls import CliError


def _parse_ts(ts: str) -> datetime:
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _require(saver: BaseCheckpointSaver, thread_ids: Sequence[str]) -> None:
    for t in thread_ids:
        if not thread_exists(saver, t):
            raise CliError(f"thread {t!r} not found")


def prune_plan(
    saver: BaseCheckpointSaver,
    thread_ids: Sequence[str] | None,
    *,
    keep_last: int | None = None,
    older_than_days: float | None = None,
) -> list[dict[str, Any]]:
    """Per thread: how many checkpoints per namespace it keeps, how many it has, how many go."""
    if (keep_last is None) == (older_than_days is None):
        raise CliError("pass exactly one of --keep-last N or --older-than DAYS")
    if thread_ids:
        _require(saver, thread_ids)
    counts = checkpoint_counts(saver, thread_ids or None)
    cutoff = datetime.now(timezone.utc) - timedelta(days=older_than_days or 0)
    plan = []
    for thread_id, namespaces in sorted(counts.items()):
        if keep_last is not None:
            keep = keep_last
        else:
            keep = max(1, max(sum(1 for ts in stamps if _parse_ts(ts) >= cutoff) for stamps in namespaces.values()))
        total = sum(len(s) for s in namespaces.values())
        delete = sum(max(0, len(s) - keep) for s in namespaces.values())
        plan.append({"thread_id": thread_id, "keep_last": keep, "checkpoints": total, "delete": delete})
    return plan


PRUNE_CHUNK = 100  # threads per prune call: few round trips, and a progress bar that moves


def run_prune(saver: BaseCheckpointSaver, plan: list[dict[str, Any]], progress: Callable[..., None] | None = None) -> None:
    """``prune`` calls per distinct keep count (``PRUNE_CHUNK`` threads each) for the threads
    that lose checkpoints; ``progress(name, n)`` after each call."""
    groups: dict[int, list[str]] = defaultdict(list)
    for p in plan:
        if p["delete"]:
            groups[p["keep_last"]].append(p["thread_id"])
    for keep, threads in sorted(groups.items()):
        for i in range(0, len(threads), PRUNE_CHUNK):
            chunk = threads[i : i + PRUNE_CHUNK]
            saver.prune(chunk, strategy="keep_latest", keep_last=keep)
            if progress is not None:
                progress(chunk[-1], len(chunk))


def delete_plan(
    saver: BaseCheckpointSaver,
    thread_ids: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The threads ``delete`` removes and how many checkpoints each holds."""
    if bool(thread_ids) == bool(metadata):
        raise CliError("pass --thread ID (repeatable) or --metadata KEY=VALUE (repeatable), not both")
    if thread_ids:
        _require(saver, thread_ids)
        wanted = list(dict.fromkeys(thread_ids))
    else:
        wanted = sorted({ids(t)[0] for t in saver.list(None, filter=dict(metadata or {}))})
    from waypoint.cli._walk import Damaged

    damaged = Damaged()  # a thread with a corrupt row can still be deleted: it counts 0
    counts = checkpoint_counts(saver, wanted, damaged) if wanted else {}
    return [
        {"thread_id": t, "checkpoints": sum(len(s) for s in counts.get(t, {}).values()), **({"corrupt": True} if t in damaged else {})}
        for t in wanted
    ]


def run_delete(saver: BaseCheckpointSaver, plan: list[dict[str, Any]], progress: Callable[..., None] | None = None) -> None:
    for p in plan:
        saver.delete_thread(p["thread_id"])
        if progress is not None:
            progress(p["thread_id"])


__all__ = ["delete_plan", "prune_plan", "run_delete", "run_prune"]
