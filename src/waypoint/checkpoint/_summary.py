"""What a page of threads holds, whichever backend read it (``_sql/threads.py``,
``mongodb/_threads.py``, or the CLI's generic path for other savers)."""

from __future__ import annotations

from dataclasses import dataclass

from waypoint.checkpoint.base import CheckpointTuple

TRIGGER_PREFIXES = ("branch:", "join:")
TRIGGER_CHANNELS = ("__start__", "__pregel_tasks")


def is_trigger(channel: str) -> bool:
    """Channels whose values decide which nodes run next (tiny: edges, barriers, sends)."""
    return channel in TRIGGER_CHANNELS or channel.startswith(TRIGGER_PREFIXES)


@dataclass
class ThreadSummary:
    """One thread of a page: its newest root checkpoint (``latest``: channel values of the
    trigger channels only, pending writes as ``(task_id, channel, None)``), its checkpoint and
    namespace counts, and the bytes its rows take in the database. ``newest_id`` (the newest
    checkpoint id of the thread) and ``thread_id`` are the keyset the next page starts after.
    ``error`` is the read error of a thread whose newest row cannot be decoded."""

    thread_id: str
    newest_id: str
    latest: CheckpointTuple | None
    checkpoints: int = 0
    namespaces: int = 0
    bytes: int = 0
    error: Exception | None = None


__all__ = ["ThreadSummary", "is_trigger"]
