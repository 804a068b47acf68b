"""One writer per thread across processes, on every durable backend (the in-memory saver with
threads of one process).

- 16 resumes of one interrupted thread start at the same moment: exactly one runs the node's
  side effect, the 15 others get ThreadBusyError before any node runs, the history stays one
  line (no silent fork). In wait mode all 16 run, one after the other, each on the head the
  previous one left.
- A holder SIGKILLed mid-step: the thread stays busy until its lease expires, then the next run
  resumes from the saved pending writes (finished tasks do not run again).
- A holder frozen (SIGSTOP) past its lease: another process takes the thread over and
  finishes; when the frozen one wakes up its writes are refused (LeaseLostError) and the
  history is exactly what the new holder left.

Children are forked (``multiprocessing``'s fork start method) and open their own saver, as
documented for gunicorn/Celery. Every wait has a deadline: a hang fails the test.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import operator
import os
import queue
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from waypoint.checkpoint.memory import InMemorySaver
from waypoint.graph import END, START, StateGraph
from waypoint.types import Command, LeasePolicy, interrupt

pytestmark = pytest.mark.slow

N = 16
DEADLINE = 120  # seconds for any phase of a test; a hang fails instead of blocking the suite
CTX = multiprocessing.get_context("fork")

SIDE: Path | None = None  # the side-effect log, set by each test before forking


def _side_effect(line: str) -> None:
    """Append one line to the side-effect log (atomic, durable: counted after a SIGKILL)."""
    assert SIDE is not None
    fd = os.open(SIDE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _side_lines() -> list[str]:
    assert SIDE is not None
    return SIDE.read_text().split() if SIDE.exists() else []


# --- graphs ----------------------------------------------------------------------------------


class Approvals(TypedDict):
    approvals: Annotated[list, operator.add]


def _approval_graph(saver: Any, *, hold: float, loop: bool, lease: LeasePolicy) -> Any:
    """``approve`` asks, then (once resumed) performs the side effect and holds the thread for
    ``hold`` seconds; with ``loop`` it asks again after each approval."""

    def approve(state: Approvals) -> dict[str, Any]:
        answer = interrupt("approve?")
        _side_effect(f"{len(state['approvals'])}:{answer}")
        time.sleep(hold)
        return {"approvals": [answer]}

    g = StateGraph(Approvals)
    g.add_node("approve", approve)
    g.add_edge(START, "approve")
    g.add_edge("approve", "approve" if loop else END)
    return g.compile(checkpointer=saver, lease=lease)


class Steps(TypedDict):
    log: Annotated[list, operator.add]


def _crash_graph(saver: Any, lease: LeasePolicy, slow_seconds: float) -> Any:
    """first -> (fast || slow) -> last; ``slow`` marks its start, then sleeps (killed or frozen
    there) before it finishes."""

    def node(name: str, sleep: float = 0.0) -> Callable[[Steps], dict[str, Any]]:
        def run(state: Steps) -> dict[str, Any]:
            _side_effect(f"{name}-start")
            time.sleep(sleep)
            _side_effect(f"{name}-done")
            return {"log": [name]}

        return run

    g = StateGraph(Steps)
    g.add_node("first", node("first"))
    g.add_node("fast", node("fast"))
    g.add_node("slow", node("slow", slow_seconds))
    g.add_node("last", node("last"))
    g.add_edge(START, "first")
    g.add_edge("first", "fast")
    g.add_edge("first", "slow")
    g.add_edge(["fast", "slow"], "last")
    g.add_edge("last", END)
    return g.compile(checkpointer=saver, lease=lease)


# --- backends: each child opens its own saver ------------------------------------------------


@contextmanager
def _target(backend: str, tmp: Path) -> Iterator[Any]:
    """Where the backend's data lives (a file, a database URL, a Mongo URI and database)."""
    if backend == "sqlite":
        yield str(tmp / "leases.db")
    elif backend == "postgres":
        from tests.backends.postgres_saver import fresh_database

        with fresh_database() as url:
            yield url
    else:
        from pymongo import MongoClient

        from tests.backends._mongo_server import mongo_uri, new_db_name

        uri, name = mongo_uri(), new_db_name("wp_lease")
        try:
            yield (uri, name)
        finally:
            with MongoClient(uri) as client:
                client.drop_database(name)


@contextmanager
def _open(backend: str, target: Any) -> Iterator[Any]:
    if backend == "sqlite":
        from waypoint.checkpoint.sqlite import SqliteSaver

        with SqliteSaver.from_conn_string(target) as saver:
            yield saver
    elif backend == "postgres":
        from waypoint.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(target) as saver:
            yield saver
    else:
        from waypoint.checkpoint.mongodb import MongoDBSaver

        with MongoDBSaver.from_conn_string(target[0], target[1]) as saver:
            yield saver


def _aopen(backend: str, target: Any) -> Any:
    if backend == "sqlite":
        from waypoint.checkpoint.sqlite.aio import AsyncSqliteSaver

        return AsyncSqliteSaver.from_conn_string(target)
    if backend == "postgres":
        from waypoint.checkpoint.postgres.aio import AsyncPostgresSaver

        return AsyncPostgresSaver.from_conn_string(target)
    from waypoint.checkpoint.mongodb.aio import AsyncMongoDBSaver

    return AsyncMongoDBSaver.from_conn_string(target[0], target[1])


def _cfg(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except BaseException as exc:  # reported to the parent
        return type(exc).__name__, str(exc)


# --- 16 concurrent resumes -------------------------------------------------------------------


def _resume_child(backend: str, target: Any, face: str, thread_id: str, hold: float, loop: bool,
                  lease: LeasePolicy, ready: Any, go: Any, out: Any) -> None:
    """Open the saver, say ready, wait for the start signal, resume the thread once."""

    def sync() -> Any:
        with _open(backend, target) as saver:
            app = _approval_graph(saver, hold=hold, loop=loop, lease=lease)
            ready.put(os.getpid())
            assert go.wait(DEADLINE)
            return app.invoke(Command(resume="yes"), _cfg(thread_id))["approvals"]

    async def asynchronous() -> Any:
        async with _aopen(backend, target) as saver:
            app = _approval_graph(saver, hold=hold, loop=loop, lease=lease)
            ready.put(os.getpid())
            assert await asyncio.to_thread(go.wait, DEADLINE)
            return (await app.ainvoke(Command(resume="yes"), _cfg(thread_id)))["approvals"]

    out.put(_outcome(sync if face == "sync" else lambda: asyncio.run(asynchronous())))


def _race(start: Callable[[Any, Any, Any], Any], n: int) -> list[tuple[str, Any]]:
    """Start ``n`` workers, release them together once all are ready, collect their outcomes."""
    ready, out, go = CTX.Queue(), CTX.Queue(), CTX.Event()
    workers = [start(ready, go, out) for _ in range(n)]
    try:
        for _ in range(n):
            ready.get(timeout=DEADLINE)
        go.set()
        results = [out.get(timeout=DEADLINE) for _ in range(n)]
    except queue.Empty:
        pytest.fail("a worker hung or died before reporting")
    finally:
        for w in workers:
            w.join(10)
            if w.is_alive():
                w.kill()
                w.join()
    return results


def _assert_one_line(history: list[Any]) -> None:
    """No silent fork: every checkpoint but the first has its own parent, none shared."""
    parents = [t.parent_config["configurable"]["checkpoint_id"] for t in history if t.parent_config]
    ids = {t.checkpoint["id"] for t in history}
    assert len(history) - len(parents) == 1, "more than one root checkpoint"
    assert len(parents) == len(set(parents)), "two checkpoints share a parent: the thread forked"
    assert set(parents) <= ids


def _interrupted_thread(backend: str, target: Any, thread_id: str, loop: bool) -> None:
    with _open(backend, target) as saver:
        app = _approval_graph(saver, hold=0, loop=loop, lease=LeasePolicy())
        assert "__interrupt__" in app.invoke({"approvals": []}, _cfg(thread_id))


def _history(backend: str, target: Any, thread_id: str) -> list[Any]:
    with _open(backend, target) as saver:
        return list(saver.list(_cfg(thread_id)))


@pytest.mark.parametrize("face", ["sync", "async"])
@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mongodb"])
def test_16_concurrent_resumes_exactly_one_runs(backend: str, face: str, tmp_path: Path) -> None:
    global SIDE
    SIDE = tmp_path / "side-effects.log"
    thread_id = f"approve-{uuid.uuid4().hex[:8]}"
    with _target(backend, tmp_path) as target:
        _interrupted_thread(backend, target, thread_id, loop=False)
        before = len(_history(backend, target, thread_id))

        def start(ready: Any, go: Any, out: Any) -> Any:
            # the winner holds the thread for 3 s: every other resume meets a held lease
            p = CTX.Process(target=_resume_child, args=(backend, target, face, thread_id, 3.0, False,
                                                        LeasePolicy(), ready, go, out))
            p.start()
            return p

        results = _race(start, N)
        kinds = sorted(kind for kind, _ in results)
        assert kinds == ["ThreadBusyError"] * (N - 1) + ["ok"], results
        assert [value for kind, value in results if kind == "ok"] == [["yes"]]
        assert all(thread_id in msg for kind, msg in results if kind == "ThreadBusyError")
        assert _side_lines() == ["0:yes"]  # the side effect ran once
        history = _history(backend, target, thread_id)
        _assert_one_line(history)
        assert len(history) == before + 1  # the one resume's checkpoint, nothing else


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mongodb"])
def test_16_concurrent_resumes_in_wait_mode_run_one_after_another(backend: str, tmp_path: Path) -> None:
    global SIDE
    SIDE = tmp_path / "side-effects.log"
    thread_id = f"approve-{uuid.uuid4().hex[:8]}"
    waiting = LeasePolicy(on_busy="wait", wait_timeout=DEADLINE)
    with _target(backend, tmp_path) as target:
        _interrupted_thread(backend, target, thread_id, loop=True)

        def start(ready: Any, go: Any, out: Any) -> Any:
            p = CTX.Process(target=_resume_child, args=(backend, target, "sync", thread_id, 0.0, True,
                                                        waiting, ready, go, out))
            p.start()
            return p

        results = _race(start, N)
        assert [kind for kind, _ in results] == ["ok"] * N, results
        # each resume ran on the head the previous one left: it saw every earlier approval
        assert sorted(len(value) for _, value in results) == list(range(1, N + 1))
        assert sorted(_side_lines(), key=lambda s: int(s.split(":")[0])) == [f"{i}:yes" for i in range(N)]
        _assert_one_line(_history(backend, target, thread_id))


@pytest.mark.parametrize("policy", ["reject", "wait"])
def test_16_concurrent_resumes_in_memory_threads(policy: str) -> None:
    global SIDE
    import tempfile

    SIDE = Path(tempfile.mkdtemp()) / "side-effects.log"
    saver = InMemorySaver()
    loop = policy == "wait"
    lease = LeasePolicy(on_busy="wait", wait_timeout=DEADLINE) if loop else LeasePolicy()
    app = _approval_graph(saver, hold=0.0 if loop else 1.0, loop=loop, lease=lease)
    cfg = _cfg("memory-approve")
    assert "__interrupt__" in app.invoke({"approvals": []}, cfg)
    go = threading.Event()
    results: list[tuple[str, Any]] = []

    def worker() -> None:
        assert go.wait(DEADLINE)
        results.append(_outcome(lambda: app.invoke(Command(resume="yes"), cfg)["approvals"]))

    threads = [threading.Thread(target=worker) for _ in range(N)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(DEADLINE)
    assert not any(t.is_alive() for t in threads), "a resume hung"
    if loop:
        assert sorted(len(v) for _, v in results) == list(range(1, N + 1))
        assert len(_side_lines()) == N
    else:
        assert sorted(kind for kind, _ in results) == ["ThreadBusyError"] * (N - 1) + ["ok"]
        assert _side_lines() == ["0:yes"]
    _assert_one_line(list(saver.list(cfg)))


# --- SIGKILL takeover and zombie writes -------------------------------------------------------


def _crash_child(backend: str, target: Any, face: str, thread_id: str, lease: LeasePolicy,
                 slow_seconds: float, input: Any, out: Any) -> None:
    def sync() -> Any:
        with _open(backend, target) as saver:
            return _crash_graph(saver, lease, slow_seconds).invoke(input, _cfg(thread_id))["log"]

    async def asynchronous() -> Any:
        async with _aopen(backend, target) as saver:
            return (await _crash_graph(saver, lease, slow_seconds).ainvoke(input, _cfg(thread_id)))["log"]

    out.put(_outcome(sync if face == "sync" else lambda: asyncio.run(asynchronous())))


def _spawn(out: Any, *args: Any) -> Any:
    p = CTX.Process(target=_crash_child, args=(*args, out))
    p.start()
    return p


def _wait_for_line(line: str, proc: Any) -> None:
    deadline = time.monotonic() + DEADLINE
    while line not in _side_lines():
        assert proc.is_alive(), f"the child died before {line!r}"
        assert time.monotonic() < deadline, f"{line!r} never appeared"
        time.sleep(0.02)


def _wait_for_pending_write(backend: str, target: Any, thread_id: str, value: Any, proc: Any) -> None:
    """Until a task's write of ``value`` is saved against the thread's latest checkpoint."""
    deadline = time.monotonic() + DEADLINE
    with _open(backend, target) as saver:
        while True:
            saved = saver.get_tuple(_cfg(thread_id))
            if saved is not None and any(v == value for _, _, v in saved.pending_writes or ()):
                return
            assert proc.is_alive(), "the child died before saving its write"
            assert time.monotonic() < deadline, f"a pending write of {value!r} never appeared"
            time.sleep(0.02)


def _get(out: Any) -> tuple[str, Any]:
    try:
        return out.get(timeout=DEADLINE)
    except queue.Empty:
        pytest.fail("a child hung or died before reporting")


FINAL = ["first", "fast", "slow", "last"]


@pytest.mark.parametrize("face", ["sync", "async"])
@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mongodb"])
def test_sigkilled_holder_then_the_next_run_resumes_after_expiry(backend: str, face: str, tmp_path: Path) -> None:
    global SIDE
    SIDE = tmp_path / "side-effects.log"
    thread_id = f"crash-{uuid.uuid4().hex[:8]}"
    short = LeasePolicy(ttl=1.5)
    with _target(backend, tmp_path) as target:
        out = CTX.Queue()
        victim = _spawn(out, backend, target, face, thread_id, short, 60.0, {"log": []})
        _wait_for_line("slow-start", victim)
        _wait_for_pending_write(backend, target, thread_id, ["fast"], victim)
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        # the dead holder's lease still holds the thread: a rejecting run is refused at once
        _spawn(out, backend, target, face, thread_id, short, 0.0, None).join(DEADLINE)
        kind, message = _get(out)
        assert kind == "ThreadBusyError" and thread_id in message, message
        # a waiting run gets the thread when the lease expires and resumes from pending writes
        waiting = LeasePolicy(ttl=1.5, on_busy="wait", wait_timeout=DEADLINE)
        _spawn(out, backend, target, face, thread_id, waiting, 0.0, None).join(DEADLINE)
        assert _get(out) == ("ok", FINAL)
        counts = {line: _side_lines().count(line) for line in set(_side_lines())}
        assert counts == {"first-start": 1, "first-done": 1, "fast-start": 1, "fast-done": 1,
                          "slow-start": 2, "slow-done": 1, "last-start": 1, "last-done": 1}, counts
        _assert_one_line(_history(backend, target, thread_id))


@pytest.mark.parametrize("face", ["sync", "async"])
@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mongodb"])
def test_a_frozen_holder_s_late_writes_are_refused(backend: str, face: str, tmp_path: Path) -> None:
    global SIDE
    SIDE = tmp_path / "side-effects.log"
    thread_id = f"zombie-{uuid.uuid4().hex[:8]}"
    with _target(backend, tmp_path) as target:
        out = CTX.Queue()
        zombie = _spawn(out, backend, target, face, thread_id, LeasePolicy(ttl=1.0), 3.0, {"log": []})
        _wait_for_line("slow-start", zombie)
        # frozen once its writes so far are committed (a process frozen inside a transaction
        # holds its locks until the server's transaction timeout), then no heartbeat, no writes
        _wait_for_pending_write(backend, target, thread_id, ["fast"], zombie)
        os.kill(zombie.pid, signal.SIGSTOP)
        try:
            waiting = LeasePolicy(on_busy="wait", wait_timeout=DEADLINE)
            _spawn(out, backend, target, face, thread_id, waiting, 0.0, None).join(DEADLINE)
            assert _get(out) == ("ok", FINAL)
            after_takeover = [(t.checkpoint["id"], t.pending_writes) for t in _history(backend, target, thread_id)]
        finally:
            os.kill(zombie.pid, signal.SIGCONT)
        kind, message = _get(out)
        zombie.join(DEADLINE)
        assert kind == "LeaseLostError" and thread_id in message, (kind, message)
        # the zombie finished its node, but none of its writes reached the thread
        assert _side_lines().count("slow-done") == 2
        history = _history(backend, target, thread_id)
        assert [(t.checkpoint["id"], t.pending_writes) for t in history] == after_takeover
        _assert_one_line(history)
        with _open(backend, target) as saver:
            assert _crash_graph(saver, LeasePolicy(), 0.0).get_state(_cfg(thread_id)).values == {"log": FINAL}
