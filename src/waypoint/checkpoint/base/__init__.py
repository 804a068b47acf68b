"""Checkpoint data shapes and the saver interface every backend implements.

A checkpoint is a snapshot of a graph's channels after one superstep. Savers store the
checkpoint row (without channel values), one blob per (channel, version) that changed, and the
pending writes of the step's tasks. Append-style channels arrive with a ``channel_logs`` hint so
savers store them as item logs (see ``waypoint.checkpoint.log``) instead of whole values.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal, NamedTuple, TypedDict

from typing_extensions import NotRequired

from waypoint._process import renew_lock_after_fork
from waypoint._text import check_text, find_bad_text
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.errors import ConfigError, EmptyChannelError, InvalidFilterError

ChannelVersion = str
ChannelVersions = dict[str, ChannelVersion]
PendingWrite = tuple[str, str, Any]  # (task_id, channel, value)

# Special write channels and the fixed (negative) index each one is stored under, so a later
# special write replaces an earlier one for the same task instead of duplicating it.
ERROR = "__error__"
SCHEDULED = "__scheduled__"
INTERRUPT = "__interrupt__"
RESUME = "__resume__"
WRITES_IDX_MAP: dict[str, int] = {ERROR: -1, SCHEDULED: -2, INTERRUPT: -3, RESUME: -4}

# LangGraph's checkpoint format 4, which waypoint's matches: pending Sends live in the
# ``__pregel_tasks`` channel and task ids are XXH3 hashes (LangGraph names tasks of a format
# 1 checkpoint differently, so a thread shared with LangGraph must say 4).
CHECKPOINT_FORMAT_VERSION = 4


class LogHint(NamedTuple):
    """Tells a saver that a list value shares its first ``prefix_len`` items with
    the value of ``base_version`` of the same channel (``None``: a fresh log)."""

    base_version: ChannelVersion | None
    prefix_len: int


class Checkpoint(TypedDict):
    """State snapshot at a point in time."""

    v: int
    id: str
    ts: str
    channel_values: dict[str, Any]
    channel_versions: ChannelVersions
    versions_seen: dict[str, ChannelVersions]
    updated_channels: list[str] | None
    # Transient, never stored: channel -> LogHint for channels whose value is an item log.
    channel_logs: NotRequired[dict[str, LogHint]]


class CheckpointMetadata(TypedDict, total=False):
    """Queryable facts about a checkpoint; also holds every key of ``config["metadata"]``."""

    source: Literal["input", "loop", "update", "fork"]
    step: int
    parents: dict[str, str]
    run_id: str


class CheckpointTuple(NamedTuple):
    """A checkpoint with its config, metadata, parent and pending writes."""

    config: dict[str, Any]
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    parent_config: dict[str, Any] | None = None
    pending_writes: list[PendingWrite] | None = None


# --- ids -------------------------------------------------------------------------------------

_id_lock = threading.Lock()
renew_lock_after_fork(sys.modules[__name__], "_id_lock")
_last_id_int = 0
_GREGORIAN_OFFSET = 0x01B21DD213814000  # 100 ns ticks from 1582-10-15 to 1970-01-01


def new_checkpoint_id() -> str:
    """A version-6 UUID (RFC 9562) that sorts lexicographically in creation order.

    60 bits of 100-nanosecond Gregorian time, most significant first (the layout LangGraph's
    runtime uses, so ids written by either runtime interleave by time on one thread), then a
    62-bit field that starts random each tick and strictly increases within this process
    (unique even within one microsecond); the random start keeps processes apart.
    """
    global _last_id_int
    ticks = time.time_ns() // 100 + _GREGORIAN_OFFSET
    candidate = (ticks << 62) | random.getrandbits(62)
    with _id_lock:
        if candidate <= _last_id_int:
            candidate = _last_id_int + 1 + random.getrandbits(16)
        _last_id_int = candidate
    # lay out as a version-6 UUID: 48 bits time high | 4 version | 12 time low | 2 variant | 62
    ticks = candidate >> 62
    rest = candidate & ((1 << 62) - 1)
    value = ((ticks >> 12) << 80) | (0x6 << 76) | ((ticks & 0xFFF) << 64) | (0b10 << 62) | rest
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def empty_checkpoint() -> Checkpoint:
    return Checkpoint(
        v=CHECKPOINT_FORMAT_VERSION,
        id=new_checkpoint_id(),
        ts=now_iso(),
        channel_values={},
        channel_versions={},
        versions_seen={},
        updated_channels=None,
    )


def copy_checkpoint(checkpoint: Checkpoint) -> Checkpoint:
    out = Checkpoint(
        v=checkpoint["v"],
        id=checkpoint["id"],
        ts=checkpoint["ts"],
        channel_values=dict(checkpoint["channel_values"]),
        channel_versions=dict(checkpoint["channel_versions"]),
        versions_seen={k: dict(v) for k, v in checkpoint["versions_seen"].items()},
        updated_channels=None if (up := checkpoint.get("updated_channels")) is None else list(up),
    )
    if "channel_logs" in checkpoint:
        out["channel_logs"] = dict(checkpoint["channel_logs"])
    return out


def create_checkpoint(
    checkpoint: Checkpoint, channels: Mapping[str, Any] | None, step: int, *, id: str | None = None
) -> Checkpoint:
    """A new checkpoint after ``checkpoint``: the same versions, values read from ``channels``
    (only those with a version; empty channels left out), or ``checkpoint``'s own values when
    ``channels`` is None; a fresh time-ordered ``id`` unless one is given, and the time now.

    LangGraph's helper for custom savers and tests. ``step`` must be the step number; LangGraph
    only mixes it into the id's random bits, and waypoint's ids are unique without it."""
    if not isinstance(step, int) or isinstance(step, bool):
        raise ConfigError(f"create_checkpoint step={step!r}: use the integer step number")
    if channels is None:
        values = dict(checkpoint["channel_values"])
    else:
        from waypoint.channels.base import MISSING

        values = {}
        for key, channel in channels.items():
            if key not in checkpoint["channel_versions"]:
                continue
            try:
                value = channel.checkpoint()
            except EmptyChannelError:
                continue
            if value is not MISSING:
                values[key] = value
    return Checkpoint(
        v=CHECKPOINT_FORMAT_VERSION,
        id=id or new_checkpoint_id(),
        ts=now_iso(),
        channel_values=values,
        channel_versions=checkpoint["channel_versions"],
        versions_seen=checkpoint["versions_seen"],
        updated_channels=None,
    )


EXCLUDED_METADATA_KEYS = frozenset(
    {
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    }
)
"""Keys of ``config["metadata"]`` never copied into a checkpoint's metadata (LangGraph's set;
waypoint also drops every other ``langgraph_`` key)."""


def next_version(current: ChannelVersion | None) -> ChannelVersion:
    """Monotonic per channel when compared as strings; the random tail keeps versions made on
    two branches of a fork apart so their blobs never collide."""
    n = 0 if current is None else int(str(current).split(".", 1)[0])
    return f"{n + 1:010d}.{os.urandom(4).hex()}"


# --- config helpers --------------------------------------------------------------------------


def get_thread_id(config: Mapping[str, Any] | None) -> str:
    """The thread id of a config, or a ConfigError naming ``thread_id``."""
    conf = (config or {}).get("configurable") or {}
    thread_id = conf.get("thread_id")
    if thread_id is None or thread_id == "":
        raise ConfigError(
            "Checkpointer requires config['configurable']['thread_id']: pass "
            "config={'configurable': {'thread_id': '<some id>'}}"
        )
    return _storable(str(thread_id), "thread_id")


def get_checkpoint_ns(config: Mapping[str, Any] | None) -> str:
    return _storable(str(((config or {}).get("configurable") or {}).get("checkpoint_ns", "") or ""), "checkpoint_ns")


def get_checkpoint_id(config: Mapping[str, Any] | None) -> str | None:
    conf = (config or {}).get("configurable") or {}
    checkpoint_id = conf.get("checkpoint_id") or None
    return checkpoint_id if checkpoint_id is None else _storable(checkpoint_id, "checkpoint_id")


def _storable(value: Any, what: str) -> Any:
    """``value`` unless it is text with NUL or a lone surrogate (ConfigError): PostgreSQL
    cannot store NUL, no driver can send a lone surrogate, so every saver refuses both."""
    if type(value) is str and (value.isascii() and "\x00" not in value):
        return value
    if isinstance(value, str):
        check_text(value, f"config['configurable'][{what!r}]", ConfigError)
    return value


MAX_LIST_LIMIT = 2**53
"""A ``list(limit=...)`` above this counts as this (``limit=sys.maxsize`` lists everything)."""


def list_scope(
    config: Mapping[str, Any] | None, filter: Mapping[str, Any] | None, limit: int | None
) -> tuple[str | None, str | None, str | None, int | None]:
    """``(thread_id, checkpoint_ns, checkpoint_id, limit)`` of a ``list`` call, each id
    checked like :func:`get_thread_id` and the filter's keys and values checked too (NUL and
    lone surrogates raise InvalidFilterError on every saver: SQL savers would otherwise
    match a different value)."""
    conf = (config or {}).get("configurable") or {}
    ids = []
    for what in ("thread_id", "checkpoint_ns", "checkpoint_id"):
        value = conf.get(what)
        if what == "checkpoint_id":
            value = value or None
        ids.append(None if value is None else _storable(str(value), what))
    if filter:
        bad = find_bad_text(filter)
        if bad is not None:
            raise InvalidFilterError(
                f"metadata filter {dict(filter)!r}: the string {bad[0]!r} {bad[1]}; SQL savers "
                "cannot compare such a value exactly, so every saver refuses it"
            )
    if limit is not None and limit > MAX_LIST_LIMIT:
        limit = MAX_LIST_LIMIT
    return ids[0], ids[1], ids[2], limit


def make_config(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> dict[str, Any]:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def metadata_matches(metadata: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """Equality filter on metadata keys (the ``list(filter=...)`` contract)."""
    if not filter:
        return True
    return all(k in metadata and metadata[k] == v for k, v in filter.items())


def writes_index(channel: str, idx: int) -> int:
    """Index a write is stored under: special channels use their fixed negative index."""
    return WRITES_IDX_MAP.get(channel, idx)


PruneStrategy = Literal["keep_latest", "delete"]


def batch_call(call: Sequence[Any]) -> tuple[Literal["put", "put_writes"], tuple[Any, ...]]:
    """Split one ``put_batch`` call into its method name and arguments, refusing others."""
    name, *args = call
    if name not in ("put", "put_writes"):
        raise ValueError(f"put_batch: unknown call {name!r}: use 'put' or 'put_writes'")
    return name, tuple(args)


def prune_keep_count(strategy: str, keep_last: int | None) -> int:
    """How many newest checkpoints per namespace ``prune`` keeps (validates the arguments)."""
    if strategy == "delete":
        return 0
    if strategy != "keep_latest":
        raise ValueError(f"unknown prune strategy {strategy!r}: use 'keep_latest' or 'delete'")
    if keep_last is None:
        return 1
    if not isinstance(keep_last, int) or keep_last < 0:
        raise ValueError(f"keep_last must be an int >= 0, got {keep_last!r}")
    return keep_last


# --- the saver interface ---------------------------------------------------------------------


class BaseCheckpointSaver(ABC):
    """What every checkpoint saver implements, sync and async.

    Sync backends may serve the async face by running the sync code in a thread; async
    backends serve the sync face by waiting on their loop and refuse (SyncOnEventLoopError)
    when called on that loop's own thread.
    """

    serde: SerializerProtocol

    def __init__(self, *, serde: SerializerProtocol | None = None) -> None:
        if serde is None:
            from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer

            serde = JsonPlusSerializer()
        self.serde = serde

    # conveniences written once
    def get(self, config: dict[str, Any]) -> Checkpoint | None:
        t = self.get_tuple(config)
        return t.checkpoint if t else None

    async def aget(self, config: dict[str, Any]) -> Checkpoint | None:
        t = await self.aget_tuple(config)
        return t.checkpoint if t else None

    def get_next_version(self, current: ChannelVersion | None, channel: Any = None) -> ChannelVersion:
        return next_version(current)

    def put_batch(self, calls: Sequence[tuple[Any, ...]]) -> None:
        """Apply queued ``("put", config, checkpoint, metadata, new_versions)`` and
        ``("put_writes", config, writes, task_id, task_path)`` calls in order.

        The engine hands a saver everything it queued at once (durability ``async``); a
        backend with transactions overrides this to store the whole batch in one round trip
        and one commit. This default applies the calls one by one.
        """
        for name, args in map(batch_call, calls):
            getattr(self, name)(*args)

    async def aput_batch(self, calls: Sequence[tuple[Any, ...]]) -> None:
        """Async twin of :meth:`put_batch`."""
        for name, args in map(batch_call, calls):
            await getattr(self, "a" + name)(*args)

    # sync face
    @abstractmethod
    def get_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        """The checkpoint named by ``checkpoint_id``, else the latest of the thread/ns."""

    @abstractmethod
    def list(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first; ``config`` None lists every thread."""

    @abstractmethod
    def put(
        self,
        config: dict[str, Any],
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> dict[str, Any]:
        """Store a checkpoint and the blobs of ``new_versions``; returns its config."""

    @abstractmethod
    def put_writes(
        self,
        config: dict[str, Any],
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes against the checkpoint in ``config``."""

    @abstractmethod
    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of a thread (all namespaces)."""

    @abstractmethod
    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) whose metadata ``run_id`` is listed."""

    @abstractmethod
    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, blob and write of a thread to another thread id."""

    @abstractmethod
    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: PruneStrategy = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        """Drop old checkpoints; keep the newest one (or ``keep_last``) per namespace, or
        everything with ``strategy="delete"``; what kept checkpoints need is never removed."""

    # async face
    @abstractmethod
    async def aget_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None: ...

    @abstractmethod
    def alist(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]: ...

    @abstractmethod
    async def aput(
        self,
        config: dict[str, Any],
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> dict[str, Any]: ...

    @abstractmethod
    async def aput_writes(
        self,
        config: dict[str, Any],
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None: ...

    @abstractmethod
    async def adelete_thread(self, thread_id: str) -> None: ...

    @abstractmethod
    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None: ...

    @abstractmethod
    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None: ...

    @abstractmethod
    async def aprune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: PruneStrategy = "keep_latest",
        keep_last: int | None = None,
    ) -> None: ...


from waypoint.checkpoint.base.lease import LEASE_KEY, Lease, SupportsLeases, get_lease  # noqa: E402
