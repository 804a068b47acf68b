"""Pure pieces of the superstep algorithm shared by runs, inspection and update_state:
grouping pending writes, channel restore, and reading task outcomes."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from waypoint.channels.base import MISSING, BaseChannel
from waypoint.checkpoint.base import ERROR, INTERRUPT, RESUME, SCHEDULED, Checkpoint
from waypoint.pregel.constants import NO_WRITES, NS_END, NS_SEP, NULL_TASK_ID, RETURN

SPECIAL_CHANNELS = frozenset({ERROR, INTERRUPT, RESUME, SCHEDULED, NO_WRITES})
NOT_CHANNELS = SPECIAL_CHANNELS | {RETURN}  # writes never applied to a channel


class TaskRecord:
    """What a checkpoint's pending writes say about one task."""

    __slots__ = ("writes", "interrupts", "interrupted", "resume", "error", "finished")

    def __init__(self) -> None:
        self.writes: list[tuple[str, Any]] = []
        self.interrupts: list[Any] = []
        self.interrupted = False
        self.resume: list[Any] | None = None
        self.error: Any = None
        self.finished = False


def group_pending_writes(
    pending: Iterable[tuple[str, str, Any]] | None,
) -> tuple[dict[str, TaskRecord], list[tuple[str, Any]]]:
    """Split a checkpoint's pending writes into per-task records and caller (null) writes."""
    records: dict[str, TaskRecord] = {}
    null_writes: list[tuple[str, Any]] = []
    for task_id, channel, value in pending or ():
        if task_id == NULL_TASK_ID:
            if channel not in SPECIAL_CHANNELS:
                null_writes.append((channel, value))
            continue
        rec = records.get(task_id)
        if rec is None:
            rec = records[task_id] = TaskRecord()
        if channel == INTERRUPT:
            rec.interrupts = list(value) if isinstance(value, (list, tuple)) else [value]
            rec.interrupted = True
        elif channel == RESUME:
            rec.resume = list(value) if isinstance(value, (list, tuple)) else [value]
        elif channel == ERROR:
            rec.error = value
        elif channel == NO_WRITES:
            rec.finished = True
        elif channel != SCHEDULED:
            rec.writes.append((channel, value))
            rec.finished = True
    return records, null_writes


def restore_channels(
    specs: Mapping[str, BaseChannel], checkpoint: Checkpoint | None
) -> tuple[dict[str, BaseChannel], dict[str, Any]]:
    """Fresh channel objects from a checkpoint, and the dict of their stored values."""
    stored = checkpoint["channel_values"] if checkpoint else {}
    channels: dict[str, BaseChannel] = {}
    values: dict[str, Any] = {}
    for key, spec in specs.items():
        ch = spec.from_checkpoint(stored.get(key, MISSING))
        channels[key] = ch
        v = ch.checkpoint()
        if v is not MISSING:
            values[key] = v
    return channels, values


def max_version(versions: Mapping[str, Any]) -> Any:
    return max(versions.values()) if versions else None


def int_next_version(current: Any, channel: Any = None) -> int:
    """Channel versions for runs without a checkpointer."""
    return 1 if current is None else int(current) + 1


def persistent_ns(ns: str) -> str:
    """The namespace a ``checkpointer=True`` subgraph keeps its one history under: its task
    namespace without task ids (``"mid:1a|inner:2b"`` -> ``"mid|inner"``), the same for every
    run of the parent."""
    return NS_SEP.join(seg.split(NS_END)[0] for seg in ns.split(NS_SEP)) if ns else ns


def task_path_str(path: tuple[Any, ...]) -> str:
    return "~".join(f"{p:010d}" if isinstance(p, int) else str(p) for p in path)


def group_writes(writes: Iterable[tuple[str, Any]]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for ch, v in writes:
        if ch in NOT_CHANNELS:
            continue
        lst = grouped.get(ch)
        if lst is None:
            grouped[ch] = [v]
        else:
            lst.append(v)
    return grouped


class NullResume:
    """A ``Command(resume=value)`` not addressed to a pending interrupt by id: the first
    ``interrupt()`` of the run that has no answer yet (in any task, at any subgraph depth)
    takes it, once. ``taken_by`` is that task, whose loop saves the answer with its writes."""

    __slots__ = ("value", "taken_by", "_lock")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.taken_by: Any = None
        self._lock = threading.Lock()  # tasks run in worker threads

    def take(self, task: Any) -> tuple[bool, Any]:
        with self._lock:
            if self.taken_by is not None:
                return False, None
            self.taken_by = task
            return True, self.value


class ReplayBound:
    """Where the subgraphs of a replaying (time-travelling) run start from.

    A run replaying a past checkpoint shares one bound with every subgraph it runs, at any
    depth. The first time a subgraph runs (known by its namespace without the last task id,
    so one node in a loop counts once) it loads its newest checkpoint older than
    ``checkpoint_id``: its state as of the replayed parent checkpoint, not its latest.
    Later runs of the same subgraph in this run load their latest checkpoint as usual.

    ``targets`` maps subgraph namespaces to checkpoint ids when the replay was addressed with a
    subgraph checkpoint's config (its ``checkpoint_map``): a subgraph running under one of
    those namespaces replays from exactly that checkpoint.
    """

    __slots__ = ("checkpoint_id", "targets", "_visited", "_lock")

    def __init__(self, checkpoint_id: str, targets: Mapping[str, str] | None = None) -> None:
        self.checkpoint_id = checkpoint_id
        self.targets = dict(targets or {})
        self._visited: set[str] = set()
        self._lock = threading.Lock()  # parallel subgraphs run in worker threads

    def start(self, ns: str) -> tuple[str, str] | None:
        """Where a subgraph run in ``ns`` starts: ``("at", id)`` (replay that checkpoint),
        ``("before", id)`` (its newest checkpoint older than ``id``), or None (its latest)."""
        if not self.first_visit(ns):
            return None
        target = self.targets.get(ns)
        return ("at", target) if target else ("before", self.checkpoint_id)

    def first_visit(self, ns: str) -> bool:
        stable = ns.rsplit(NS_END, 1)[0]
        with self._lock:
            if stable in self._visited:
                return False
            self._visited.add(stable)
            return True
