"""The checkpoint-saver conformance suite: every backend, sync and async faces.

Backends join by registering a factory in ``tests/backends`` (see its ``__init__``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from waypoint.checkpoint.base import (
    ERROR,
    INTERRUPT,
    Checkpoint,
    LogHint,
    empty_checkpoint,
    new_checkpoint_id,
)
from waypoint.checkpoint.log import PAGE_SIZE
from waypoint.errors import ConfigError


def cfg(thread: str, ns: str = "", checkpoint_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ns}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


class Thread:
    """Builds a chain of checkpoints the way the engine does: versions bump per change."""

    def __init__(self, saver: Any, api: Any, thread: str, ns: str = "") -> None:
        self.saver, self.api, self.thread, self.ns = saver, api, thread, ns
        self.versions: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.config = cfg(thread, ns)
        self.history: list[tuple[str, dict[str, Any]]] = []

    async def step(
        self,
        changes: dict[str, Any],
        *,
        logs: dict[str, int] | None = None,
        metadata: dict[str, Any] | None = None,
        base_versions: dict[str, str | None] | None = None,
    ) -> dict[str, Any]:
        """Write ``changes``; ``logs`` maps log channels to their unchanged-prefix length."""
        cp: Checkpoint = empty_checkpoint()
        new_versions = {}
        hints = {}
        for ch, value in changes.items():
            old = self.versions.get(ch)
            new = self.saver.get_next_version(old, None)
            if logs and ch in logs:
                base = (base_versions or {}).get(ch, old)
                hints[ch] = LogHint(base, logs[ch])
            self.versions[ch] = new
            new_versions[ch] = new
            self.values[ch] = value
        cp["channel_values"] = dict(self.values)
        cp["channel_versions"] = dict(self.versions)
        cp["versions_seen"] = {"node": dict(self.versions)}
        cp["updated_channels"] = sorted(changes)
        if hints:
            cp["channel_logs"] = hints
        md = {"source": "loop", "step": len(self.history), "parents": {}, **(metadata or {})}
        self.config = await self.api.call(self.saver, "put", self.config, cp, md, new_versions)
        self.history.append((self.config["configurable"]["checkpoint_id"], dict(self.values)))
        return self.config


async def test_put_and_get_roundtrip(saver: Any, api: Any) -> None:
    t = Thread(saver, api, "t1")
    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc)
    c1 = await t.step({"foo": "a", "n": 1, "when": when, "tup": (1, 2)}, metadata={"user": "u1"})
    c2 = await t.step({"foo": "b"}, metadata={"user": "u1", "score": 3})
    got = await api.call(saver, "get_tuple", cfg("t1"))
    assert got.config["configurable"]["checkpoint_id"] == c2["configurable"]["checkpoint_id"]
    assert got.checkpoint["channel_values"] == {"foo": "b", "n": 1, "when": when, "tup": (1, 2)}
    assert type(got.checkpoint["channel_values"]["tup"]) is tuple
    assert got.checkpoint["channel_versions"] == t.versions
    assert "channel_logs" not in got.checkpoint
    assert got.metadata["user"] == "u1" and got.metadata["score"] == 3
    assert got.metadata["source"] == "loop" and got.metadata["step"] == 1
    assert got.parent_config["configurable"]["checkpoint_id"] == c1["configurable"]["checkpoint_id"]
    assert got.pending_writes == []
    first = await api.call(saver, "get_tuple", c1)
    assert first.checkpoint["channel_values"]["foo"] == "a"
    assert first.parent_config is None
    assert await api.call(saver, "get_tuple", cfg("nope")) is None
    assert await api.call(saver, "get_tuple", cfg("t1", checkpoint_id=new_checkpoint_id())) is None


async def test_missing_thread_id_is_a_clear_value_error(saver: Any, api: Any) -> None:
    with pytest.raises(ValueError, match="thread_id"):
        await api.call(saver, "get_tuple", {"configurable": {}})
    with pytest.raises(ConfigError, match="thread_id"):
        await api.call(saver, "put", {"configurable": {}}, empty_checkpoint(), {}, {})


async def test_namespaces_are_separate(saver: Any, api: Any) -> None:
    root = Thread(saver, api, "t", "")
    child = Thread(saver, api, "t", "sub:1")
    await root.step({"x": 1})
    await child.step({"x": 2})
    assert (await api.call(saver, "get_tuple", cfg("t"))).checkpoint["channel_values"] == {"x": 1}
    got = await api.call(saver, "get_tuple", cfg("t", "sub:1"))
    assert got.checkpoint["channel_values"] == {"x": 2}
    assert got.config["configurable"]["checkpoint_ns"] == "sub:1"


async def test_list_order_filter_before_limit(saver: Any, api: Any) -> None:
    t = Thread(saver, api, "t")
    for i in range(6):
        await t.step({"i": i}, metadata={"parity": i % 2, "tag": {"k": "even" if i % 2 == 0 else "odd"}})
    other = Thread(saver, api, "other")
    await other.step({"i": 99}, metadata={"parity": 1})
    ids = [cid for cid, _ in t.history]
    listed = await api.call(saver, "list", cfg("t"))
    assert [x.config["configurable"]["checkpoint_id"] for x in listed] == ids[::-1]
    assert [x.checkpoint["channel_values"]["i"] for x in listed] == [5, 4, 3, 2, 1, 0]
    odd = await api.call(saver, "list", cfg("t"), filter={"parity": 1})
    assert [x.checkpoint["channel_values"]["i"] for x in odd] == [5, 3, 1]
    nested = await api.call(saver, "list", cfg("t"), filter={"tag": {"k": "even"}, "parity": 0})
    assert [x.checkpoint["channel_values"]["i"] for x in nested] == [4, 2, 0]
    assert await api.call(saver, "list", cfg("t"), filter={"missing": 1}) == []
    before = await api.call(saver, "list", cfg("t"), before=cfg("t", checkpoint_id=ids[3]), limit=2)
    assert [x.checkpoint["channel_values"]["i"] for x in before] == [2, 1]
    everything = await api.call(saver, "list", None, filter={"parity": 1})
    assert sorted(x.checkpoint["channel_values"]["i"] for x in everything) == [1, 3, 5, 99]
    one = await api.call(saver, "list", cfg("t", checkpoint_id=ids[2]))
    assert [x.checkpoint["channel_values"]["i"] for x in one] == [2]


async def test_paging_with_before_walks_history_once(saver: Any, api: Any) -> None:
    t = Thread(saver, api, "t")
    for i in range(23):
        await t.step({"i": i})
    seen: list[int] = []
    before = None
    while True:
        page = await api.call(saver, "list", cfg("t"), before=before, limit=5)
        if not page:
            break
        seen.extend(x.checkpoint["channel_values"]["i"] for x in page)
        before = page[-1].config
    assert seen == list(range(22, -1, -1))


async def test_put_writes_regular_and_special(saver: Any, api: Any) -> None:
    t = Thread(saver, api, "t")
    conf = await t.step({"a": 1})
    await api.call(saver, "put_writes", conf, [("a", 10), ("b", {"x": (1, 2)})], "task-1", "path~1")
    await api.call(saver, "put_writes", conf, [("a", 11)], "task-1", "path~1")  # same idx: kept first
    await api.call(saver, "put_writes", conf, [(ERROR, "boom 1")], "task-2", "path~2")
    await api.call(saver, "put_writes", conf, [(ERROR, "boom 2")], "task-2", "path~2")  # replaces
    await api.call(saver, "put_writes", conf, [(INTERRUPT, [{"value": "ask"}])], "task-3")
    got = await api.call(saver, "get_tuple", conf)
    writes = got.pending_writes
    assert ("task-1", "a", 10) in writes and ("task-1", "b", {"x": (1, 2)}) in writes
    assert ("task-1", "a", 11) not in writes
    assert [w for w in writes if w[1] == ERROR] == [("task-2", ERROR, "boom 2")]
    assert ("task-3", INTERRUPT, [{"value": "ask"}]) in writes
    assert len(writes) == 4
    # writes are attached to their checkpoint only
    conf2 = await t.step({"a": 2})
    assert (await api.call(saver, "get_tuple", conf2)).pending_writes == []
    # order within a task follows the write index
    assert [w[1] for w in writes if w[0] == "task-1"] == ["a", "b"]


async def test_unchanged_channels_are_read_from_older_versions(saver: Any, api: Any) -> None:
    t = Thread(saver, api, "t")
    await t.step({"big": "x" * 1000, "small": 0})
    for i in range(1, 5):
        await t.step({"small": i})
    got = await api.call(saver, "get_tuple", cfg("t"))
    assert got.checkpoint["channel_values"] == {"big": "x" * 1000, "small": 4}


async def test_empty_channel_version_reads_as_absent(saver: Any, api: Any) -> None:
    t = Thread(saver, api, "t")
    await t.step({"a": 1, "gone": 5})
    cp = empty_checkpoint()
    v = saver.get_next_version(t.versions["gone"], None)
    cp["channel_versions"] = {"a": t.versions["a"], "gone": v}
    cp["channel_values"] = {"a": 1}
    conf = await api.call(saver, "put", t.config, cp, {"source": "loop", "step": 1}, {"gone": v})
    got = await api.call(saver, "get_tuple", conf)
    assert got.checkpoint["channel_values"] == {"a": 1}


# --- item logs ---------------------------------------------------------------------------


async def test_log_appends_keep_every_version_readable(saver: Any, api: Any) -> None:
    t = Thread(saver, api, "t")
    items: list[Any] = []
    for i in range(PAGE_SIZE * 2 + 7):
        prev = len(items)
        items = items + [{"role": "user", "content": f"m{i}", "n": i}]
        await t.step({"messages": items, "turn": i}, logs={"messages": prev})
    for cid, values in t.history[:: max(1, len(t.history) // 9)] + t.history[-3:]:
        got = await api.call(saver, "get_tuple", cfg("t", checkpoint_id=cid))
        assert got.checkpoint["channel_values"]["messages"] == values["messages"]
    latest = await api.call(saver, "get_tuple", cfg("t"))
    assert latest.checkpoint["channel_values"]["messages"] == items


async def test_log_fork_replace_truncate_and_missing_base(saver: Any, api: Any) -> None:
    t = Thread(saver, api, "t")
    items: list[Any] = []
    versions = []
    for i in range(70):
        prev = len(items)
        items = items + [f"m{i}"]
        await t.step({"log": items}, logs={"log": prev})
        versions.append(t.versions["log"])
    # fork: extend version 39 (40 items) although the lineage has since grown to 70
    forked = items[:40] + ["fork-a", "fork-b"]
    await t.step({"log": forked}, logs={"log": 40}, base_versions={"log": versions[39]})
    fork_conf = t.config
    # keep appending on the fork, then replace an item in the middle (prefix 5)
    forked2 = forked + ["fork-c"]
    await t.step({"log": forked2}, logs={"log": len(forked)})
    replaced = forked2[:5] + ["X"] + forked2[6:]
    await t.step({"log": replaced}, logs={"log": 5})
    truncated = replaced[:3]
    await t.step({"log": truncated}, logs={"log": 3})
    reset: list[Any] = []
    await t.step({"log": reset}, logs={"log": 0})
    after_reset = ["fresh"]
    await t.step({"log": after_reset}, logs={"log": 0})
    # a hint whose base version is unknown still stores the whole value
    await t.step({"other": [1, 2, 3]}, logs={"other": 2}, base_versions={"other": "0000000009.deadbeef"})
    for cid, values in t.history:
        got = await api.call(saver, "get_tuple", cfg("t", checkpoint_id=cid))
        assert got.checkpoint["channel_values"] == values, cid
    got = await api.call(saver, "get_tuple", fork_conf)
    assert got.checkpoint["channel_values"]["log"] == forked


async def test_log_values_are_copied_not_aliased(saver: Any, api: Any) -> None:
    t = Thread(saver, api, "t")
    items = [{"a": 1}]
    conf = await t.step({"log": items}, logs={"log": 0})
    items[0]["a"] = 999
    items.append({"b": 2})
    got = await api.call(saver, "get_tuple", conf)
    assert got.checkpoint["channel_values"]["log"] == [{"a": 1}]


# --- maintenance -------------------------------------------------------------------------


async def _two_threads(saver: Any, api: Any) -> tuple[Thread, Thread]:
    a = Thread(saver, api, "a")
    b = Thread(saver, api, "b")
    items: list[str] = []
    for i in range(5):
        prev = len(items)
        items = items + [f"a{i}"]
        await a.step({"log": items, "i": i}, logs={"log": prev}, metadata={"run_id": f"run-{i % 2}"})
        await b.step({"i": i}, metadata={"run_id": "run-b"})
    sub = Thread(saver, api, "a", "child:1")
    await sub.step({"x": 1})
    conf = a.config
    await api.call(saver, "put_writes", conf, [("i", 42)], "task-x")
    return a, b


async def test_delete_thread(saver: Any, api: Any) -> None:
    a, b = await _two_threads(saver, api)
    await api.call(saver, "delete_thread", "a")
    assert await api.call(saver, "get_tuple", cfg("a")) is None
    assert await api.call(saver, "get_tuple", cfg("a", "child:1")) is None
    assert await api.call(saver, "list", {"configurable": {"thread_id": "a"}}) == []
    got = await api.call(saver, "get_tuple", cfg("b"))
    assert got.checkpoint["channel_values"] == {"i": 4}
    assert len(await api.call(saver, "list", cfg("b"))) == 5


async def test_copy_thread(saver: Any, api: Any) -> None:
    a, _ = await _two_threads(saver, api)
    await api.call(saver, "copy_thread", "a", "copy")
    src = await api.call(saver, "list", {"configurable": {"thread_id": "a"}})  # every namespace
    dst = await api.call(saver, "list", {"configurable": {"thread_id": "copy"}})
    assert len(src) == len(dst) == 6
    key = lambda x: (x.config["configurable"]["checkpoint_ns"], x.config["configurable"]["checkpoint_id"])  # noqa: E731
    for s, d in zip(sorted(src, key=key), sorted(dst, key=key)):
        assert key(s) == key(d)
        assert s.checkpoint["channel_values"] == d.checkpoint["channel_values"]
        assert sorted(map(repr, s.pending_writes)) == sorted(map(repr, d.pending_writes))
        assert d.config["configurable"]["thread_id"] == "copy"
    # appending on the copy leaves the source untouched
    c = Thread(saver, api, "copy")
    c.versions, c.values = dict(a.versions), dict(a.values)
    c.config = cfg("copy", checkpoint_id=a.config["configurable"]["checkpoint_id"])
    await c.step({"log": a.values["log"] + ["copy-only"]}, logs={"log": len(a.values["log"])})
    assert (await api.call(saver, "get_tuple", cfg("a"))).checkpoint["channel_values"]["log"] == a.values["log"]
    assert (await api.call(saver, "get_tuple", cfg("copy"))).checkpoint["channel_values"]["log"][-1] == "copy-only"


async def test_prune_keep_latest_keeps_what_it_needs(saver: Any, api: Any) -> None:
    a, b = await _two_threads(saver, api)
    latest = (await api.call(saver, "get_tuple", cfg("a"))).checkpoint["channel_values"]
    await api.call(saver, "prune", ["a"])
    left = await api.call(saver, "list", {"configurable": {"thread_id": "a"}})
    assert len(left) == 2  # newest per namespace: root and child:1
    got = await api.call(saver, "get_tuple", cfg("a"))
    assert got.checkpoint["channel_values"] == latest
    assert got.pending_writes == [("task-x", "i", 42)]
    assert len(await api.call(saver, "list", cfg("b"))) == 5
    # the kept log still extends correctly after pruning
    a.config = got.config
    await a.step({"log": latest["log"] + ["after"]}, logs={"log": len(latest["log"])})
    assert (await api.call(saver, "get_tuple", cfg("a"))).checkpoint["channel_values"]["log"][-1] == "after"


async def test_prune_keep_last_and_delete(saver: Any, api: Any) -> None:
    a, b = await _two_threads(saver, api)
    await api.call(saver, "prune", ["a", "b"], keep_last=3)
    kept = await api.call(saver, "list", cfg("a", ""))
    root = [x for x in kept if x.config["configurable"]["checkpoint_ns"] == ""]
    assert [x.checkpoint["channel_values"]["i"] for x in root] == [4, 3, 2]
    for x in root:
        assert x.checkpoint["channel_values"]["log"] == [f"a{j}" for j in range(x.checkpoint["channel_values"]["i"] + 1)]
    assert len(await api.call(saver, "list", cfg("b"))) == 3
    await api.call(saver, "prune", ["b"], strategy="delete")
    assert await api.call(saver, "list", cfg("b")) == []
    with pytest.raises(ValueError, match="strategy"):
        await api.call(saver, "prune", ["a"], strategy="bogus")


async def test_delete_for_runs(saver: Any, api: Any) -> None:
    a, b = await _two_threads(saver, api)
    await api.call(saver, "delete_for_runs", ["run-1", "run-b"])
    left = await api.call(saver, "list", cfg("a", ""))
    assert sorted(x.checkpoint["channel_values"].get("i", -1) for x in left if x.config["configurable"]["checkpoint_ns"] == "") == [0, 2, 4]
    assert await api.call(saver, "list", cfg("b")) == []


async def test_next_version_is_monotonic_as_strings(saver: Any, api: Any) -> None:
    v = None
    seen = []
    for _ in range(12):
        v = saver.get_next_version(v, None)
        seen.append(v)
    assert seen == sorted(seen) and len(set(seen)) == 12


async def test_concurrent_writers_on_different_threads(saver: Any, api: Any) -> None:
    async def run(name: str) -> None:
        t = Thread(saver, api, name)
        items: list[int] = []
        for i in range(8):
            prev = len(items)
            items = items + [i]
            await t.step({"log": items}, logs={"log": prev})

    await asyncio.gather(*(run(f"w{i}") for i in range(6)))
    for i in range(6):
        got = await api.call(saver, "get_tuple", cfg(f"w{i}"))
        assert got.checkpoint["channel_values"]["log"] == list(range(8))
        assert len(await api.call(saver, "list", cfg(f"w{i}"))) == 8


async def test_put_batch_applies_queued_calls_in_order(saver: Any, api: Any) -> None:
    """What the engine hands over at once with durability "async": puts and writes, in order."""
    first, second = empty_checkpoint(), empty_checkpoint()
    v1 = saver.get_next_version(None, None)
    v2 = saver.get_next_version(v1, None)
    first["channel_values"], first["channel_versions"] = {"log": ["a"]}, {"log": v1}
    first["channel_logs"] = {"log": LogHint(None, 0)}
    second["channel_values"], second["channel_versions"] = {"log": ["a", "b"]}, {"log": v2}
    second["channel_logs"] = {"log": LogHint(v1, 1)}
    c1 = cfg("batch", checkpoint_id=first["id"])
    await api.call(saver, "put_batch", [
        ("put", cfg("batch"), first, {"source": "input", "step": -1, "parents": {}}, {"log": v1}),
        ("put_writes", c1, [("log", ["b"])], "task-1", ""),
        ("put", c1, second, {"source": "loop", "step": 0, "parents": {}}, {"log": v2}),
    ])
    latest = await api.call(saver, "get_tuple", cfg("batch"))
    assert latest.checkpoint["id"] == second["id"]
    assert latest.checkpoint["channel_values"] == {"log": ["a", "b"]}
    assert latest.parent_config["configurable"]["checkpoint_id"] == first["id"]
    older = await api.call(saver, "get_tuple", c1)
    assert older.checkpoint["channel_values"] == {"log": ["a"]}
    assert older.pending_writes == [("task-1", "log", ["b"])]
    with pytest.raises(ValueError, match="unknown call"):
        await api.call(saver, "put_batch", [("bogus",)])
