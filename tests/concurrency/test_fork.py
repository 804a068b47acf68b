"""A process forked after a graph has run (gunicorn --preload, Celery prefork, multiprocessing's
fork start method) runs graphs in the child: nothing process-global of the parent (thread pool,
locks, connections) is used there.

Each case runs a graph in this process, forks, and runs a graph in the child on the *same*
compiled graph and saver object. A sync saver that opened its own connection reconnects in the
child; one over a connection the application passed in, and every async saver (bound to the
parent's event loop), refuses at once with ``ForkedConnectionError``. Never a hang: the child
has a hard alarm and the parent waits with a deadline.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import operator
import os
import signal
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from waypoint.checkpoint.memory import InMemorySaver
from waypoint.graph import END, START, StateGraph

pytestmark = pytest.mark.slow

CHILD_DEADLINE = 30  # seconds before the child is killed (a hang fails, never blocks)


class S(TypedDict):
    log: Annotated[list, operator.add]


def _graph(saver: Any) -> Any:
    g = StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_node("c", lambda s: {"log": ["c"]})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "c")  # two tasks in one step: the thread pool is used
    g.add_edge("b", END)
    g.add_edge("c", END)
    return g.compile(checkpointer=saver)


def _cfg() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"fork-{uuid.uuid4().hex}"}}


def _child_result(fn: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"ok": fn()}
    except BaseException as exc:  # reported to the parent
        return {"error": type(exc).__name__, "message": str(exc)}


def _in_os_fork(fn: Callable[[], Any]) -> dict[str, Any]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            signal.alarm(CHILD_DEADLINE)
            out = json.dumps(_child_result(fn), default=repr).encode()
            os.write(w, out)
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + CHILD_DEADLINE + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    data = os.read(r, 1 << 20)
    os.close(r)
    assert data, f"the child died without a result (status {status}): it hung or crashed"
    return json.loads(data)


def _mp_target(fn: Callable[[], Any], queue: Any) -> None:
    queue.put(_child_result(fn))


def _in_multiprocessing(fn: Callable[[], Any]) -> dict[str, Any]:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_mp_target, args=(fn, queue))
    proc.start()
    try:
        result = queue.get(timeout=CHILD_DEADLINE)
    except Exception:
        proc.kill()
        proc.join()
        pytest.fail("the multiprocessing child hung")
    proc.join(10)
    return result


FORKERS = {"os.fork": _in_os_fork, "multiprocessing": _in_multiprocessing}


@contextmanager
def _memory() -> Iterator[Any]:
    yield InMemorySaver(), True


@contextmanager
def _sqlite_path(tmp: Path) -> Iterator[Any]:
    from waypoint.checkpoint.sqlite import SqliteSaver

    with SqliteSaver.from_conn_string(tmp / "c.db") as saver:
        yield saver, True


@contextmanager
def _sqlite_own_connection(tmp: Path) -> Iterator[Any]:
    from waypoint.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(tmp / "c.db", check_same_thread=False, isolation_level=None)
    try:
        yield SqliteSaver(conn), True  # the file is known: the child reopens it
    finally:
        conn.close()


@contextmanager
def _postgres_conn_string() -> Iterator[Any]:
    from tests.backends.postgres_saver import fresh_database
    from waypoint.checkpoint.postgres import PostgresSaver

    with fresh_database() as url, PostgresSaver.from_conn_string(url) as saver:
        yield saver, True


@contextmanager
def _postgres_own_connection() -> Iterator[Any]:
    import psycopg

    from tests.backends.postgres_saver import fresh_database
    from waypoint.checkpoint.postgres import PostgresSaver

    with fresh_database() as url, psycopg.Connection.connect(url, autocommit=True) as conn:
        yield PostgresSaver(conn), False  # not ours to reopen: a clear error in the child


@contextmanager
def _mongodb() -> Iterator[Any]:
    from pymongo import MongoClient

    from tests.backends._mongo_server import mongo_uri, new_db_name
    from waypoint.checkpoint.mongodb import MongoDBSaver

    name = new_db_name()
    client: MongoClient = MongoClient(mongo_uri())
    try:
        saver = MongoDBSaver(client, name)
        saver.setup()
        yield saver, True  # pymongo resets its client's pools in a forked child
    finally:
        client.drop_database(name)
        client.close()


SYNC_BACKENDS: dict[str, Callable[..., Any]] = {
    "memory": lambda tmp: _memory(),
    "sqlite-path": _sqlite_path,
    "sqlite-connection": _sqlite_own_connection,
    "postgres-conn-string": lambda tmp: _postgres_conn_string(),
    "postgres-connection": lambda tmp: _postgres_own_connection(),
    "mongodb": lambda tmp: _mongodb(),
}


@pytest.mark.parametrize("forker", sorted(FORKERS))
@pytest.mark.parametrize("backend", sorted(SYNC_BACKENDS))
def test_sync_run_in_forked_child(backend: str, forker: str, tmp_path: Path) -> None:
    with SYNC_BACKENDS[backend](tmp_path) as (saver, reconnects):
        app = _graph(saver)
        parent_cfg = _cfg()
        assert sorted(app.invoke({"log": []}, parent_cfg)["log"]) == ["a", "b", "c"]
        child_cfg = _cfg()

        def child() -> Any:
            out = app.invoke({"log": ["child"]}, child_cfg)
            return [sorted(out["log"]), len(list(app.get_state_history(child_cfg)))]

        result = FORKERS[forker](child)
        if reconnects:
            assert result == {"ok": [["a", "b", "c", "child"], 4]}, result
            # the child's checkpoints are in the shared database (not for the in-memory saver)
            if backend != "memory":
                assert sorted(app.get_state(child_cfg).values["log"]) == ["a", "b", "c", "child"]
        else:
            assert result["error"] == "ForkedConnectionError", result
            assert "open the saver or store in the child" in result["message"]
        # the parent's connection still works after the child ran
        assert sorted(app.invoke(None, parent_cfg)["log"]) == ["a", "b", "c"]
        assert sorted(app.invoke({"log": ["again"]}, parent_cfg)["log"]) == ["a", "a", "again", "b", "b", "c", "c"]


def test_child_opening_its_own_saver_completes(tmp_path: Path) -> None:
    """The documented pattern: open the saver in the child (post_fork / worker_process_init)."""
    from waypoint.checkpoint.sqlite import SqliteSaver

    with SqliteSaver.from_conn_string(tmp_path / "c.db") as saver:
        _graph(saver).invoke({"log": []}, _cfg())

        def child() -> Any:
            with SqliteSaver.from_conn_string(tmp_path / "c.db") as own:
                return sorted(_graph(own).invoke({"log": []}, _cfg())["log"])

        assert _in_os_fork(child) == {"ok": ["a", "b", "c"]}


@contextmanager
def _async_backend(name: str, tmp: Path, stack: ExitStack) -> Iterator[Callable[[], Any]]:
    """A factory of an async context manager for the named async saver."""
    if name == "sqlite-async":
        from waypoint.checkpoint.sqlite.aio import AsyncSqliteSaver

        yield lambda: AsyncSqliteSaver.from_conn_string(tmp / "c.db")
    elif name == "postgres-async":
        from tests.backends.postgres_saver import fresh_database
        from waypoint.checkpoint.postgres.aio import AsyncPostgresSaver

        url = stack.enter_context(fresh_database())
        yield lambda: AsyncPostgresSaver.from_conn_string(url)
    else:
        from tests.backends._mongo_server import mongo_uri, new_db_name
        from waypoint.checkpoint.mongodb.aio import AsyncMongoDBSaver

        uri, db = mongo_uri(), new_db_name()
        yield lambda: AsyncMongoDBSaver.from_conn_string(uri, db)


@pytest.mark.parametrize("backend", ["sqlite-async", "postgres-async", "mongodb-async"])
def test_async_saver_in_forked_child(backend: str, tmp_path: Path) -> None:
    """An async saver is bound to the parent's event loop: the child either runs or gets a
    clear error at once (never a hang); a saver opened in the child's own loop runs."""
    with ExitStack() as stack, _async_backend(backend, tmp_path, stack) as opener:

        async def parent() -> None:
            async with opener() as saver:
                app = _graph(saver)
                await app.ainvoke({"log": []}, _cfg())

                def child_inherited() -> Any:
                    async def go() -> Any:
                        return sorted((await app.ainvoke({"log": []}, _cfg()))["log"])

                    return asyncio.run(go())

                result = _in_os_fork(child_inherited)
                assert result.get("ok") == ["a", "b", "c"] or result.get("error") == "ForkedConnectionError", result
                # the parent's saver still works
                assert sorted((await app.ainvoke({"log": []}, _cfg()))["log"]) == ["a", "b", "c"]

        asyncio.run(parent())

        def child_own() -> Any:
            async def go() -> Any:
                async with opener() as own:
                    return sorted((await _graph(own).ainvoke({"log": []}, _cfg()))["log"])

            return asyncio.run(go())

        assert _in_os_fork(child_own) == {"ok": ["a", "b", "c"]}


def test_docs_example_runs() -> None:
    """docs/concurrency.md's example runs as written and prints what it says."""
    import re
    import subprocess
    import sys

    text = (Path(__file__).parents[2] / "docs" / "concurrency.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if 'get_context("fork")' in b)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['t0', 't1']"
