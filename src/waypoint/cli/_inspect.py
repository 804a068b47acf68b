"""What the read commands show, computed over any saver through its public API.

Everything here streams ``saver.list(...)`` and aggregates; nothing holds more than one thread's
rows of small numbers (plus a memo of value sizes keyed by channel version). ``threads`` and
``stats`` (paged, from the database's thread summary and counters) live in ``_listing.py``.

Bytes are *serialized payload bytes*: the size of ``serde.dumps_typed`` of each channel value
that is new in a checkpoint (its version differs from the parent's), counting only the growth
for list values that extend the parent's list (what an item log stores), plus the checkpoint's
pending writes. They measure payload, not the backend's on-disk footprint.

Node names of tasks are recovered from task ids the way the engine derives them; a task that
cannot be named shows its id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from waypoint.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.cli._urls import CliError
from waypoint.errors import CheckpointReadError

START = "__start__"
TASKS = "__pregel_tasks"
PULL = "__pregel_pull"
PUSH = "__pregel_push"
NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"
INTERRUPT = "__interrupt__"
ERROR = "__error__"
BRANCH = "branch:to:"


def is_internal(channel: str) -> bool:
    """Engine bookkeeping channels (edges, barriers, input, sends) hidden by default."""
    return channel in (START, TASKS) or channel.startswith(("branch:", "join:"))


def ids(t: CheckpointTuple) -> tuple[str, str, str]:
    conf = t.config["configurable"]
    return str(conf["thread_id"]), str(conf.get("checkpoint_ns", "")), str(conf["checkpoint_id"])


def parent_id(t: CheckpointTuple) -> str | None:
    if not t.parent_config:
        return None
    return t.parent_config["configurable"].get("checkpoint_id")


# --- next tasks and task names ----------------------------------------------------------------


def _sends(values: Mapping[str, Any]) -> list[str]:
    return [str(getattr(s, "node", s)) for s in values.get(TASKS) or ()]


def next_nodes(t: CheckpointTuple) -> tuple[str, ...]:
    """Nodes the next step runs: trigger channels newer than the node last saw, plus sends."""
    cp = t.checkpoint
    values, seen = cp["channel_values"], cp["versions_seen"]
    pulls: set[str] = set()
    for channel, version in cp["channel_versions"].items():
        if channel not in values:
            continue
        if channel == START:
            node = START
        elif channel.startswith(BRANCH):
            node = channel[len(BRANCH):]
        elif channel.startswith("join:"):
            starts, _, node = channel[len("join:"):].rpartition(":")
            if not set(starts.split("+")) <= set(values[channel] or ()):
                continue
        else:
            continue
        last = (seen.get(node) or {}).get(channel)
        if last is None or str(version) > str(last):
            pulls.add(node)
    return (*sorted(pulls), *_sends(values))


def task_names(t: CheckpointTuple) -> dict[str, str]:
    """task id -> node name for the tasks planned from checkpoint ``t``."""
    out = {NULL_TASK_ID: "(caller)"}
    try:
        from waypoint.pregel.node import make_task_id
    except ImportError:  # the engine is optional for inspection
        return out
    _, ns, cid = ids(t)
    step = int((t.metadata or {}).get("step", -1))
    prefix = (cid, ns, step + 1)
    names = set(t.checkpoint["versions_seen"]) | set(next_nodes(t)) | {START}
    for name in names:  # a StateGraph node is triggered by its branch channel, START by input
        out[make_task_id(prefix, name, PULL, (START,) if name == START else (BRANCH + name,))] = name
    for i, node in enumerate(_sends(t.checkpoint["channel_values"])):
        out[make_task_id(prefix, node, f"{PUSH}:{i}")] = node
    return out


def _interrupts(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


# --- bytes ---------------------------------------------------------------------------------------

Size = tuple[str, int, int | None]  # (version, serialized bytes, list length or None)


@dataclass
class CheckpointRow:
    """One checkpoint as the read commands summarize it."""

    thread_id: str
    ns: str
    checkpoint_id: str
    parent_id: str | None
    step: int
    source: str
    ts: str
    metadata: dict[str, Any]
    next: tuple[str, ...]
    writes: list[dict[str, str]]
    write_bytes: int
    channel_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(self.channel_bytes.values()) + self.write_bytes


def _new_bytes(child: Mapping[str, Size], parent: Mapping[str, Size]) -> dict[str, int]:
    out = {}
    for channel, (version, size, length) in child.items():
        prev = parent.get(channel)
        if prev is not None and prev[0] == version:
            continue
        if prev is not None and length is not None and prev[2] is not None and length >= prev[2]:
            out[channel] = max(0, size - prev[1])
        else:
            out[channel] = size
    return out


def _row(t: CheckpointTuple, serde: SerializerProtocol) -> CheckpointRow:
    thread_id, ns, cid = ids(t)
    meta = dict(t.metadata or {})
    names = task_names(t)
    writes, write_bytes = [], 0
    for task_id, channel, value in t.pending_writes or ():
        writes.append({"task_id": task_id, "node": names.get(task_id, task_id[:8]), "channel": channel})
        write_bytes += len(serde.dumps_typed(value)[1])
    return CheckpointRow(
        thread_id, ns, cid, parent_id(t), int(meta.get("step", -1)), str(meta.get("source", "")),
        t.checkpoint.get("ts", ""), meta, next_nodes(t), writes, write_bytes,
    )


def scan(tuples: Iterable[CheckpointTuple], serde: SerializerProtocol) -> Iterator[CheckpointRow]:
    """Rows for ``tuples`` (newest first per thread, as ``list`` yields them) with their bytes.

    A row is yielded once its parent has been seen (or the stream ends), so the order is only
    roughly newest first.
    """
    memo: dict[tuple[str, str, str, str], tuple[int, int | None]] = {}
    waiting: dict[tuple[str, str, str], list[tuple[CheckpointRow, dict[str, Size]]]] = defaultdict(list)
    for t in tuples:
        thread_id, ns, cid = ids(t)
        values = t.checkpoint["channel_values"]
        sizes: dict[str, Size] = {}
        for channel, version in t.checkpoint["channel_versions"].items():
            key = (thread_id, ns, channel, str(version))
            if key not in memo:
                if channel in values:
                    v = values[channel]
                    memo[key] = (len(serde.dumps_typed(v)[1]), len(v) if type(v) is list else None)
                else:
                    memo[key] = (0, None)
            sizes[channel] = (str(version), *memo[key])
        row = _row(t, serde)
        for child, child_sizes in waiting.pop((thread_id, ns, cid), ()):
            child.channel_bytes = _new_bytes(child_sizes, sizes)
            yield child
        if row.parent_id is None:
            row.channel_bytes = _new_bytes(sizes, {})
            yield row
        else:
            waiting[(thread_id, ns, row.parent_id)].append((row, sizes))
    for rows in waiting.values():
        for row, sizes in rows:
            row.channel_bytes = _new_bytes(sizes, {})
            yield row


# --- commands' data ------------------------------------------------------------------------------


def thread_config(thread_id: str, ns: str | None = None, checkpoint_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread_id}
    if ns is not None:
        conf["checkpoint_ns"] = ns
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def thread_exists(saver: BaseCheckpointSaver, thread_id: str) -> bool:
    """Whether the thread has a checkpoint (one whose row is corrupt counts: it exists)."""
    try:
        return next(iter(saver.list(thread_config(thread_id), limit=1)), None) is not None
    except CheckpointReadError:
        return True


def history(saver: BaseCheckpointSaver, thread_id: str, ns: str = "") -> list[CheckpointRow]:
    """The thread's checkpoints in ``ns``, newest first, with writes and bytes."""
    rows = sorted(scan(saver.list(thread_config(thread_id, ns)), saver.serde), key=lambda r: r.checkpoint_id, reverse=True)
    if not rows:
        raise CliError(f"thread {thread_id!r} not found" + (f" (namespace {ns!r})" if ns else ""))
    return rows


def resolve(saver: BaseCheckpointSaver, thread_id: str, checkpoint: str | None, ns: str = "") -> CheckpointTuple:
    """The checkpoint named by a full id or a unique prefix or suffix of one (ids made in the
    same millisecond share a long prefix), else the thread's latest."""
    if checkpoint:
        t = saver.get_tuple(thread_config(thread_id, ns, checkpoint))
        if t is not None:
            return t
        found = [c for c in saver.list(thread_config(thread_id, ns)) if ids(c)[2].startswith(checkpoint) or ids(c)[2].endswith(checkpoint)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise CliError(f"checkpoint {checkpoint!r} matches {len(found)} checkpoints of thread {thread_id!r}")
        if not thread_exists(saver, thread_id):
            raise CliError(f"thread {thread_id!r} not found")
        raise CliError(f"checkpoint {checkpoint!r} not found in thread {thread_id!r}")
    t = saver.get_tuple(thread_config(thread_id, ns))
    if t is None:
        raise CliError(f"thread {thread_id!r} not found" + (f" (namespace {ns!r})" if ns else ""))
    return t


def show(t: CheckpointTuple, channels: Iterable[str] = (), include_internal: bool = False) -> dict[str, Any]:
    """A checkpoint's values, next nodes, tasks, pending writes and interrupts."""
    thread_id, ns, cid = ids(t)
    all_values = t.checkpoint["channel_values"]
    wanted = list(channels)
    if wanted:
        missing = [c for c in wanted if c not in t.checkpoint["channel_versions"]]
        if missing:
            known = ", ".join(sorted(c for c in t.checkpoint["channel_versions"] if not is_internal(c)))
            raise CliError(f"no channel {missing[0]!r} in checkpoint {cid} (channels: {known})")
        values = {c: all_values.get(c) for c in wanted}
    else:
        values = {k: v for k, v in all_values.items() if include_internal or not is_internal(k)}
    names = task_names(t)
    pending = [
        {"task_id": task_id, "node": names.get(task_id, task_id[:8]), "channel": ch, "value": v}
        for task_id, ch, v in t.pending_writes or ()
    ]
    nxt = next_nodes(t)
    by_name = {name: tid for tid, name in names.items()}
    tasks: list[dict[str, Any]] = []
    for name in dict.fromkeys(nxt):
        tid = by_name.get(name, "")
        mine = [w for w in pending if w["task_id"] == tid] if tid else []
        tasks.append({
            "id": tid, "name": name,
            "interrupts": [i for w in mine if w["channel"] == INTERRUPT for i in _interrupts(w["value"])],
            "error": next((w["value"] for w in mine if w["channel"] == ERROR), None),
            "writes": [w["channel"] for w in mine if w["channel"] not in (INTERRUPT, ERROR)],
        })
    interrupts = [
        {"id": getattr(i, "id", None), "value": getattr(i, "value", i), "node": w["node"]}
        for w in pending if w["channel"] == INTERRUPT for i in _interrupts(w["value"])
    ]
    meta = dict(t.metadata or {})
    return {
        "thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid, "parent_id": parent_id(t),
        "created_at": t.checkpoint.get("ts"), "step": meta.get("step"), "source": meta.get("source"),
        "metadata": meta, "values": values, "next": list(nxt), "tasks": tasks,
        "pending_writes": pending, "interrupts": interrupts,
    }


def value_diff(before: Any, after: Any) -> dict[str, Any]:
    """How ``after`` differs from ``before``: list prefix/added/removed, dict keys, or values."""
    if isinstance(before, list) and isinstance(after, list):
        k = 0
        while k < min(len(before), len(after)) and before[k] == after[k]:
            k += 1
        return {"kind": "list", "common_prefix": k, "removed": before[k:], "added": after[k:]}
    if isinstance(before, dict) and isinstance(after, dict):
        return {
            "kind": "dict",
            "added": {k: v for k, v in after.items() if k not in before},
            "removed": {k: v for k, v in before.items() if k not in after},
            "changed": {k: {"before": before[k], "after": v} for k, v in after.items() if k in before and before[k] != v},
        }
    return {"kind": "value", "before": before, "after": after}


def _writers(saver: BaseCheckpointSaver, a: CheckpointTuple, b: CheckpointTuple, channels: set[str]) -> dict[str, list[dict[str, Any]]] | None:
    """channel -> [{node, step}] along b's parent chain back to a; None if a is no ancestor."""
    thread_id, ns, a_id = ids(a)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    cur = b
    while ids(cur)[2] != a_id:
        pid = parent_id(cur)
        if pid is None or pid < a_id:
            return None
        parent = saver.get_tuple(thread_config(thread_id, ns, pid))
        if parent is None:
            return None
        names = task_names(parent)
        step = (cur.metadata or {}).get("step")
        by_channel: dict[str, list[str]] = defaultdict(list)
        for task_id, ch, _ in parent.pending_writes or ():
            by_channel[ch].append(names.get(task_id, task_id[:8]))
        pv, cv = parent.checkpoint["channel_versions"], cur.checkpoint["channel_versions"]
        source = (cur.metadata or {}).get("source", "?")
        for ch in channels:
            if pv.get(ch) != cv.get(ch):
                # a loop step applies the parent's pending writes; an update or fork does not
                who = (by_channel.get(ch) if source == "loop" else None) or [f"({source})"]
                out[ch][:0] = [{"node": n, "step": step} for n in dict.fromkeys(who)]
        cur = parent
    return dict(out)


def diff(saver: BaseCheckpointSaver, a: CheckpointTuple, b: CheckpointTuple, include_internal: bool = False) -> dict[str, Any]:
    """Channels that differ between checkpoints ``a`` and ``b``, with value diffs and writers."""
    va, vb = a.checkpoint["channel_values"], b.checkpoint["channel_values"]
    ra, rb = a.checkpoint["channel_versions"], b.checkpoint["channel_versions"]
    changed = sorted(
        ch for ch in set(ra) | set(rb)
        if (include_internal or not is_internal(ch)) and (ra.get(ch) != rb.get(ch)) and (va.get(ch) != vb.get(ch) or (ch in va) != (ch in vb))
    )
    writers = _writers(saver, a, b, set(changed))
    out = []
    for ch in changed:
        change = "added" if ch not in va else "removed" if ch not in vb else "changed"
        out.append({
            "channel": ch, "change": change,
            "diff": value_diff(va.get(ch), vb.get(ch)),
            "written_by": (writers or {}).get(ch, []),
        })
    return {
        "thread_id": ids(a)[0], "from": ids(a)[2], "to": ids(b)[2],
        "from_step": (a.metadata or {}).get("step"), "to_step": (b.metadata or {}).get("step"),
        "lineage": writers is not None, "channels": out,
    }


def checkpoint_counts(saver: BaseCheckpointSaver, thread_ids: Iterable[str] | None = None, damaged: Any = None) -> dict[str, dict[str, list[str]]]:
    """thread -> ns -> checkpoint timestamps newest first (all threads when ``thread_ids`` is None).
    With ``damaged`` (a ``_walk.Damaged``), a listed thread with a corrupt row is noted there
    and left out instead of failing."""
    out: dict[str, dict[str, list[str]]] = {}
    sources = [(None, saver.list(None))] if thread_ids is None else [(t, saver.list(thread_config(t))) for t in thread_ids]
    for wanted, source in sources:
        try:
            for t in source:
                thread_id, ns, _ = ids(t)
                out.setdefault(thread_id, {}).setdefault(ns, []).append(t.checkpoint.get("ts", ""))
        except CheckpointReadError as exc:
            if damaged is None or wanted is None:
                raise
            damaged.add(exc, wanted)
            out.pop(wanted, None)
    return out


__all__ = [
    "CheckpointRow", "checkpoint_counts", "diff", "history", "is_internal", "next_nodes", "resolve",
    "scan", "show", "task_names", "thread_config", "thread_exists", "value_diff",
]
