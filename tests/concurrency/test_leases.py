"""One writer per thread, in one process: the lease contract of every saver (sync and async
faces) and how the engine uses it (a second run is refused before any node runs, waits when
asked to, update_state takes the lease too, nested runs reuse their parent's, a saver without
lease methods runs unleased).

Multi-process races, SIGKILL takeover and zombie writes are in ``test_lease_processes.py``.
"""

from __future__ import annotations

import asyncio
import operator
import threading
import time
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

import pytest

from tests.backends import saver_factories
from tests.backends.mongodb_saver import mongodb_sync_saver
from waypoint.checkpoint.base import BaseCheckpointSaver, Lease, empty_checkpoint
from waypoint.checkpoint.base.lease import LEASE_KEY, supports_leases, with_lease
from waypoint.checkpoint.memory import InMemorySaver
from waypoint.errors import ConfigError, LeaseLostError, ThreadBusyError
from waypoint.graph import END, START, StateGraph
from waypoint.types import Command, LeasePolicy, interrupt

FACTORIES = {
    **saver_factories(),
    # a MongoDB server without transactions: the fence runs just before each write
    "mongodb-no-transactions": lambda: mongodb_sync_saver(transactions=False),
}
BACKENDS = sorted(FACTORIES)
DEADLINE = 60  # seconds any one wait of these tests may take before the test fails


def _async_face(name: str) -> bool:
    return name.endswith("-async")


async def _call(saver: Any, name: str, method: str, *args: Any) -> Any:
    """The lease method through the backend's own face: ``a``-methods for async savers, the
    sync ones (off the event loop) otherwise."""
    if _async_face(name):
        return await getattr(saver, "a" + method)(*args)
    return await asyncio.to_thread(getattr(saver, method), *args)


def _cfg(thread_id: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **extra}}


def _checkpoint_config(thread_id: str, lease: Lease | None, checkpoint_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    cfg = {"configurable": conf}
    return with_lease(cfg, lease) if lease is not None else cfg


# --- the saver contract ----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_lease_contract(backend: str) -> None:
    async def go() -> None:
        async with FACTORIES[backend]() as saver:
            assert supports_leases(saver)
            a = await _call(saver, backend, "acquire_lease", "t1", "A", 0.5)
            assert (a.thread_id, a.holder, a.ttl) == ("t1", "A", 0.5)
            with pytest.raises(ThreadBusyError) as busy:
                await _call(saver, backend, "acquire_lease", "t1", "B", 0.5)
            err = busy.value
            assert err.thread_id == "t1" and err.holder == "A" and 0 < err.retry_after <= 0.5
            assert "'t1'" in str(err) and "on_busy='wait'" in str(err)
            # another thread is independent
            other = await _call(saver, backend, "acquire_lease", "t2", "B", 0.5)
            # the same holder takes it again: a new, larger token fences out the older one
            a2 = await _call(saver, backend, "acquire_lease", "t1", "A", 0.5)
            assert a2.token > a.token
            with pytest.raises(LeaseLostError):
                await _call(saver, backend, "renew_lease", a)
            renewed = await _call(saver, backend, "renew_lease", a2)
            assert renewed.token == a2.token and renewed.expires_at >= a2.expires_at
            # a stale release changes nothing; the holder's own release frees the thread now
            await _call(saver, backend, "release_lease", a)
            with pytest.raises(ThreadBusyError):
                await _call(saver, backend, "acquire_lease", "t1", "B", 0.5)
            await _call(saver, backend, "release_lease", a2)
            b = await _call(saver, backend, "acquire_lease", "t1", "B", 0.5)
            assert b.token > a2.token
            # expiry: after the ttl, anyone may take it
            await asyncio.sleep(0.7)
            c = await _call(saver, backend, "acquire_lease", "t1", "C", 5)
            assert c.token > b.token
            with pytest.raises(LeaseLostError) as lost:
                await _call(saver, backend, "renew_lease", b)
            assert lost.value.thread_id == "t1" and lost.value.token == b.token
            await _call(saver, backend, "release_lease", other)

    asyncio.run(asyncio.wait_for(go(), DEADLINE))


@pytest.mark.parametrize("backend", BACKENDS)
def test_zombie_writes_are_refused_and_write_nothing(backend: str) -> None:
    """A holder whose lease was taken over can no longer put, put_writes or put_batch."""

    async def go() -> None:
        async with FACTORIES[backend]() as saver:
            put = "aput" if _async_face(backend) else "put"
            zombie = await _call(saver, backend, "acquire_lease", "z", "zombie", 0.3)
            cp = empty_checkpoint()
            first = await _maybe(saver, put, _checkpoint_config("z", zombie), cp, {"source": "input", "step": -1}, {})
            await asyncio.sleep(0.5)
            fresh = await _call(saver, backend, "acquire_lease", "z", "fresh", 30)
            stale_cp = empty_checkpoint()
            with pytest.raises(LeaseLostError):
                await _maybe(saver, put, _checkpoint_config("z", zombie, first["configurable"]["checkpoint_id"]),
                             stale_cp, {"source": "loop", "step": 0}, {})
            with pytest.raises(LeaseLostError):
                await _maybe(saver, "aput_writes" if _async_face(backend) else "put_writes",
                             _checkpoint_config("z", zombie, first["configurable"]["checkpoint_id"]),
                             [("x", 1), ("y", 2)], "task-1", "")
            batch = [
                ("put_writes", _checkpoint_config("z", zombie, first["configurable"]["checkpoint_id"]), [("x", 3)], "task-2", ""),
                ("put", _checkpoint_config("z", zombie, first["configurable"]["checkpoint_id"]), empty_checkpoint(),
                 {"source": "loop", "step": 0}, {}),
            ]
            with pytest.raises(LeaseLostError):
                await _maybe(saver, "aput_batch" if _async_face(backend) else "put_batch", batch)
            history = await _history(saver, backend, "z")
            assert [t.checkpoint["id"] for t in history] == [cp["id"]]
            assert history[0].pending_writes == []
            # the new holder writes normally, renewing its lease in the same transaction
            await _maybe(saver, put, _checkpoint_config("z", fresh, cp["id"]), stale_cp, {"source": "loop", "step": 0}, {})
            assert len(await _history(saver, backend, "z")) == 2
            # an unleased write (a custom caller, LangGraph-style) is not fenced
            await _maybe(saver, put, _checkpoint_config("z", None, stale_cp["id"]), empty_checkpoint(),
                         {"source": "loop", "step": 1}, {})
            assert len(await _history(saver, backend, "z")) == 3

    asyncio.run(asyncio.wait_for(go(), DEADLINE))


async def _maybe(saver: Any, method: str, *args: Any) -> Any:
    fn = getattr(saver, method)
    if method.startswith("a"):
        return await fn(*args)
    return await asyncio.to_thread(fn, *args)


async def _history(saver: Any, backend: str, thread_id: str) -> list[Any]:
    if _async_face(backend):
        return [t async for t in saver.alist(_cfg(thread_id))]
    return await asyncio.to_thread(lambda: list(saver.list(_cfg(thread_id))))


@pytest.mark.parametrize("backend", BACKENDS)
def test_delete_thread_erases_a_free_lease_and_tokens_still_grow(backend: str) -> None:
    async def go() -> None:
        async with FACTORIES[backend]() as saver:
            held = await _call(saver, backend, "acquire_lease", "d", "A", 30)
            await _call(saver, backend, "delete_thread", "d")
            with pytest.raises(ThreadBusyError):  # a running run keeps its lease
                await _call(saver, backend, "acquire_lease", "d", "B", 30)
            await _call(saver, backend, "release_lease", held)
            old = await _call(saver, backend, "acquire_lease", "d", "C", 0.2)
            await asyncio.sleep(0.3)
            await _call(saver, backend, "delete_thread", "d")  # expired: erased with the thread
            new = await _call(saver, backend, "acquire_lease", "d", "D", 30)
            assert new.token > old.token > held.token
            with pytest.raises(LeaseLostError):
                await _call(saver, backend, "renew_lease", old)

    asyncio.run(asyncio.wait_for(go(), DEADLINE))


def test_bad_lease_in_a_write_config_is_a_named_error() -> None:
    saver = InMemorySaver()
    lease = saver.acquire_lease("a", "h", 5)
    with pytest.raises(ConfigError, match="carries the lease of thread 'a'"):
        saver.put(with_lease(_checkpoint_config("b", None), lease), empty_checkpoint(), {}, {})
    bad = {"configurable": {"thread_id": "a", "checkpoint_ns": "", LEASE_KEY: "token-7"}}
    with pytest.raises(ConfigError, match="must be a Lease"):
        saver.put(bad, empty_checkpoint(), {}, {})


# --- the engine ------------------------------------------------------------------------------


class Log(TypedDict):
    log: Annotated[list, operator.add]


def _blocking_graph(saver: Any, gate: threading.Event, entered: threading.Event, ran: list[str], **compile_kw: Any) -> Any:
    def work(state: Log) -> dict[str, Any]:
        ran.append("work")
        entered.set()
        assert gate.wait(DEADLINE), "the test never opened the gate"
        return {"log": ["work"]}

    g = StateGraph(Log)
    g.add_node("work", work)
    g.add_edge(START, "work")
    g.add_edge("work", END)
    return g.compile(checkpointer=saver, **compile_kw)


SYNC_ENGINE_BACKENDS = ["memory", "sqlite", "postgres", "mongodb"]


@pytest.mark.parametrize("backend", SYNC_ENGINE_BACKENDS)
@pytest.mark.parametrize("how", ["invoke", "stream", "resume", "replay", "update_state"])
def test_second_run_is_refused_before_any_node_runs(backend: str, how: str) -> None:
    async def go() -> None:
        async with FACTORIES[backend]() as saver:
            gate, entered, ran = threading.Event(), threading.Event(), []
            app = _blocking_graph(saver, gate, entered, ran)
            cfg = _cfg("busy")
            gate.set()
            await asyncio.to_thread(app.invoke, {"log": ["first"]}, cfg)
            past = [s.config for s in app.get_state_history(cfg)][-1]
            gate.clear()
            entered.clear()
            ran.clear()
            holder = asyncio.create_task(asyncio.to_thread(app.invoke, {"log": ["held"]}, cfg))
            assert await asyncio.to_thread(entered.wait, DEADLINE)

            def second() -> Any:
                if how == "invoke":
                    return app.invoke({"log": ["second"]}, cfg)
                if how == "stream":
                    return list(app.stream({"log": ["second"]}, cfg))
                if how == "resume":
                    return app.invoke(None, cfg)
                if how == "replay":
                    return app.invoke(None, past)
                return app.update_state(cfg, {"log": ["edit"]})

            with pytest.raises(ThreadBusyError) as busy:
                await asyncio.to_thread(second)
            assert busy.value.thread_id == "busy"
            assert ran == ["work"]  # only the holder's node ran
            gate.set()
            assert (await holder)["log"] == ["first", "work", "held", "work"]
            # the lease is released at the end of the run: the next one runs at once
            assert (await asyncio.to_thread(app.invoke, {"log": ["next"]}, cfg))["log"][-2:] == ["next", "work"]

    asyncio.run(asyncio.wait_for(go(), DEADLINE))


@pytest.mark.parametrize("backend", ["memory", "sqlite-async", "postgres-async", "mongodb-async"])
def test_async_second_run_is_refused_and_wait_mode_runs_on_the_new_head(backend: str) -> None:
    async def go() -> None:
        async with FACTORIES[backend]() as saver:
            entered, gate = asyncio.Event(), asyncio.Event()

            async def work(state: Log) -> dict[str, Any]:
                entered.set()
                await gate.wait()
                return {"log": [f"work after {len(state['log'])}"]}

            g = StateGraph(Log)
            g.add_node("work", work)
            g.add_edge(START, "work")
            g.add_edge("work", END)
            app = g.compile(checkpointer=saver)
            cfg = _cfg("abusy")
            holder = asyncio.create_task(app.ainvoke({"log": ["a"]}, cfg))
            await entered.wait()
            with pytest.raises(ThreadBusyError):
                await app.ainvoke({"log": ["b"]}, cfg)
            with pytest.raises(ThreadBusyError):
                [c async for c in app.astream({"log": ["b"]}, cfg)]
            with pytest.raises(ThreadBusyError):
                await app.aupdate_state(cfg, {"log": ["edit"]})
            waiting = LeasePolicy(on_busy="wait", wait_timeout=DEADLINE)
            waiter = asyncio.create_task(app.ainvoke({"log": ["c"]}, _cfg("abusy", waypoint_lease=waiting)))
            await asyncio.sleep(0.3)
            assert not waiter.done()
            gate.set()
            assert (await holder)["log"] == ["a", "work after 1"]
            # the waiter ran after the holder, on the head the holder left
            assert (await waiter)["log"] == ["a", "work after 1", "c", "work after 3"]

    asyncio.run(asyncio.wait_for(go(), DEADLINE))


def test_wait_mode_times_out_with_thread_busy() -> None:
    gate, entered, ran = threading.Event(), threading.Event(), []
    app = _blocking_graph(InMemorySaver(), gate, entered, ran)
    holder = threading.Thread(target=app.invoke, args=({"log": []}, _cfg("slow")))
    holder.start()
    try:
        assert entered.wait(DEADLINE)
        policy = LeasePolicy(on_busy="wait", wait_timeout=0.3)
        with pytest.raises(ThreadBusyError):
            app.invoke({"log": []}, _cfg("slow", waypoint_lease=policy))
        assert ran == ["work"]
    finally:
        gate.set()
        holder.join(DEADLINE)


def test_lease_policy_from_compile_and_per_call() -> None:
    gate, entered, ran = threading.Event(), threading.Event(), []
    saver = InMemorySaver()
    waiting = _blocking_graph(saver, gate, entered, ran, lease=LeasePolicy(on_busy="wait", wait_timeout=DEADLINE))
    unleased = _blocking_graph(saver, gate, entered, ran, lease=False)
    holder = threading.Thread(target=waiting.invoke, args=({"log": ["a"]}, _cfg("p")))
    holder.start()
    assert entered.wait(DEADLINE)
    # per call, the config's policy wins over compile's: reject at once
    with pytest.raises(ThreadBusyError):
        waiting.invoke({"log": ["b"]}, _cfg("p", waypoint_lease=LeasePolicy()))
    # compile(lease=False) runs without a lease (LangGraph's behaviour): it is not refused
    done = threading.Event()
    runner = threading.Thread(target=lambda: (unleased.invoke({"log": ["c"]}, _cfg("p")), done.set()))
    runner.start()
    time.sleep(0.1)
    gate.set()
    holder.join(DEADLINE)
    runner.join(DEADLINE)
    assert done.is_set() and ran.count("work") == 2


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(ttl=0), "ttl=0"),
        (dict(ttl=float("inf")), "ttl=inf"),
        (dict(ttl=True), "ttl=True"),
        (dict(on_busy="queue"), "on_busy='queue'"),
        (dict(wait_timeout=-1), "wait_timeout=-1"),
    ],
)
def test_bad_lease_policies_are_named_errors(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LeasePolicy(**bad)


def test_bad_lease_settings_are_named_errors() -> None:
    g = StateGraph(Log)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_edge(START, "a")
    with pytest.raises(ConfigError, match="compile\\(lease\\)='reject'"):
        g.compile(checkpointer=InMemorySaver(), lease="reject")
    app = g.compile(checkpointer=InMemorySaver())
    with pytest.raises(ConfigError, match="waypoint_lease"):
        app.invoke({"log": []}, _cfg("x", waypoint_lease=30))


def test_one_acquire_per_run_and_subgraphs_reuse_the_parents_lease(tmp_path: Any) -> None:
    from waypoint.checkpoint.sqlite import SqliteSaver

    class Counting(SqliteSaver):
        acquired = 0

        def acquire_lease(self, thread_id: str, holder: str, ttl: float) -> Lease:
            Counting.acquired += 1
            return super().acquire_lease(thread_id, holder, ttl)

    sub = StateGraph(Log)
    sub.add_node("inner", lambda s: {"log": ["inner"]})
    sub.add_edge(START, "inner")
    subgraph = sub.compile()

    def ask(state: Log) -> dict[str, Any]:
        return {"log": [interrupt("ok?")]}

    g = StateGraph(Log)
    g.add_node("child", subgraph)
    g.add_node("ask", ask)
    g.add_edge(START, "child")
    g.add_edge("child", "ask")
    with Counting.from_conn_string(tmp_path / "c.db") as saver:
        app = g.compile(checkpointer=saver)
        cfg = _cfg("s")
        out = app.invoke({"log": []}, cfg)
        assert "__interrupt__" in out and Counting.acquired == 1
        assert app.invoke(Command(resume="yes"), cfg)["log"] == ["inner", "yes"]
        assert Counting.acquired == 2
        app.update_state(cfg, {"log": ["edited"]})
        assert Counting.acquired == 3
        # reads take no lease
        app.get_state(cfg, subgraphs=True)
        list(app.get_state_history(cfg))
        assert Counting.acquired == 3


class PlainSaver(BaseCheckpointSaver):
    """A custom saver written against the base class only (no lease methods)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = InMemorySaver()

    def get_tuple(self, config: dict[str, Any]) -> Any:
        return self.inner.get_tuple(config)

    def list(self, config: Any, *, filter: Any = None, before: Any = None, limit: Any = None) -> Any:
        return self.inner.list(config, filter=filter, before=before, limit=limit)

    def put(self, config: dict[str, Any], checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        assert LEASE_KEY not in config["configurable"]  # nothing is stamped for a saver without leases
        return self.inner.put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config: dict[str, Any], writes: Sequence[Any], task_id: str, task_path: str = "") -> None:
        assert LEASE_KEY not in config["configurable"]
        self.inner.put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self.inner.delete_thread(thread_id)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.inner.delete_for_runs(run_ids)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.inner.copy_thread(source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], *, strategy: Any = "keep_latest", keep_last: Any = None) -> None:
        self.inner.prune(thread_ids, strategy=strategy, keep_last=keep_last)

    async def aget_tuple(self, config: dict[str, Any]) -> Any:
        return self.get_tuple(config)

    async def alist(self, config: Any, *, filter: Any = None, before: Any = None, limit: Any = None) -> Any:
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(self, config: dict[str, Any], checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config: dict[str, Any], writes: Sequence[Any], task_id: str, task_path: str = "") -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.delete_for_runs(run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.copy_thread(source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: Any = "keep_latest", keep_last: Any = None) -> None:
        self.prune(thread_ids, strategy=strategy, keep_last=keep_last)


def test_a_custom_saver_without_lease_methods_runs_unleased() -> None:
    gate, entered, ran = threading.Event(), threading.Event(), []
    saver = PlainSaver()
    assert not supports_leases(saver)
    app = _blocking_graph(saver, gate, entered, ran)
    first = threading.Thread(target=app.invoke, args=({"log": ["a"]}, _cfg("c")))
    first.start()
    assert entered.wait(DEADLINE)
    entered.clear()
    second = threading.Thread(target=app.invoke, args=({"log": ["b"]}, _cfg("c")))
    second.start()
    assert entered.wait(DEADLINE)  # not refused: no lease without the saver's support
    gate.set()
    first.join(DEADLINE)
    second.join(DEADLINE)
    assert ran == ["work", "work"]
    app.update_state(_cfg("c"), {"log": ["edit"]})
    asyncio.run(asyncio.wait_for(app.ainvoke({"log": ["c"]}, _cfg("c")), DEADLINE))


@pytest.mark.parametrize("face", ["sync", "async"])
def test_heartbeat_keeps_a_long_node_s_lease(face: str, tmp_path: Any) -> None:
    """A node running far longer than the ttl keeps the thread: the heartbeat renews it."""
    from waypoint.checkpoint.sqlite import SqliteSaver

    with SqliteSaver.from_conn_string(tmp_path / "h.db") as saver:
        entered = threading.Event()

        def long_node(state: Log) -> dict[str, Any]:
            entered.set()
            time.sleep(3.0)
            return {"log": ["long"]}

        g = StateGraph(Log)
        g.add_node("long", long_node)
        g.add_edge(START, "long")
        app = g.compile(checkpointer=saver, lease=LeasePolicy(ttl=1.2))
        cfg = _cfg("hb")
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                if face == "sync":
                    result["out"] = app.invoke({"log": []}, cfg)
                else:
                    result["out"] = asyncio.run(app.ainvoke({"log": []}, cfg))
            except BaseException as exc:  # reported below
                result["error"] = exc

        t = threading.Thread(target=run)
        t.start()
        assert entered.wait(DEADLINE)
        time.sleep(2.0)  # well past the ttl: only renewals keep it
        with pytest.raises(ThreadBusyError):
            saver.acquire_lease("hb", "intruder", 5)
        t.join(DEADLINE)
        assert result.get("out") == {"log": ["long"]}, result


def test_docs_examples_run() -> None:
    """docs/concurrency.md's lease examples run as written and print what they say."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "concurrency.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "LeasePolicy" in b or "ThreadBusyError" in b]
    expected = ["[\"['yes']\", 'busy for order-42'] ['yes']", "6"]
    assert len(blocks) == len(expected)
    for code, want in zip(blocks, expected):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == want
