"""A workflow stopped inside a task — by an interrupt or by the process dying — is finished by
a second process on the same database, and no task that had finished runs again (each task
appends its name to a log file, so the runs are counted across processes).

Every durable saver, sync and async: SQLite, PostgreSQL, MongoDB. (The in-memory saver cannot
outlive its process; tests/func/test_workflows.py covers its resumes.)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = r'''
import asyncio, os, sys
from waypoint.func import entrypoint, task
from waypoint.types import Command, LeasePolicy, interrupt

kind, target, db, phase, mode, log = sys.argv[1:7]


def note(name):
    with open(log, "a") as f:
        f.write(name + "\n")


@task
def fetch(x):
    note("fetch")
    return x * 2


@task
def enrich(x):
    note("enrich")
    return x + 1


@task
def approve(x):
    note("approve")
    if mode == "crash":
        if not os.path.exists(log + ".crashed"):
            open(log + ".crashed", "w").close()
            os._exit(3)  # the process dies inside the task: nothing is cleaned up
        return "auto"
    return interrupt({"value": x})


@task
def finish(x, verdict):
    note("finish")
    return f"{x}:{verdict}"


def build(saver):
    @entrypoint(checkpointer=saver)
    def pipeline(x):
        a = fetch(x).result()
        b = enrich(a).result()
        verdict = approve(b).result()
        return finish(b, verdict).result()

    return pipeline


# a process that died keeps the thread's lease until it expires (1 s here); the next waits for it
lease = LeasePolicy(ttl=1.0, on_busy="wait", wait_timeout=60)
config = {"configurable": {"thread_id": "order-7", "waypoint_lease": lease}}
if phase == "1":
    inp = 5
else:
    inp = Command(resume="yes") if mode == "interrupt" else None
durability = "sync" if mode == "crash" else "async"


def sync_saver():
    if kind == "sqlite":
        from waypoint.checkpoint.sqlite import SqliteSaver
        return SqliteSaver.from_conn_string(target)
    if kind == "postgres":
        from waypoint.checkpoint.postgres import PostgresSaver
        return PostgresSaver.from_conn_string(target)
    from waypoint.checkpoint.mongodb import MongoDBSaver
    return MongoDBSaver.from_conn_string(target, db)


def async_saver():
    if kind == "sqlite-async":
        from waypoint.checkpoint.sqlite.aio import AsyncSqliteSaver
        return AsyncSqliteSaver.from_conn_string(target)
    if kind == "postgres-async":
        from waypoint.checkpoint.postgres.aio import AsyncPostgresSaver
        return AsyncPostgresSaver.from_conn_string(target)
    from waypoint.checkpoint.mongodb.aio import AsyncMongoDBSaver
    return AsyncMongoDBSaver.from_conn_string(target, db)


if kind.endswith("-async"):
    async def main():
        async with async_saver() as saver:
            await saver.setup()
            return await build(saver).ainvoke(inp, config, durability=durability)
    out = asyncio.run(main())
else:
    with sync_saver() as saver:
        saver.setup()
        out = build(saver).invoke(inp, config, durability=durability)
print(repr(out))
'''

KINDS = ["sqlite", "sqlite-async", "postgres", "postgres-async", "mongodb", "mongodb-async"]


@pytest.fixture(params=KINDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(kind, connection target, database name) of a fresh database for the two processes."""
    kind = request.param
    if kind.startswith("sqlite"):
        yield kind, str(tmp_path / "checkpoints.db"), ""
    elif kind.startswith("postgres"):
        from tests.backends._postgres import PLAIN_URL, fresh_database

        with fresh_database(PLAIN_URL, "wp_func") as url:
            yield kind, url, ""
    else:
        from pymongo import MongoClient

        from tests.backends._mongo_server import mongo_uri, new_db_name

        uri, name = mongo_uri(), new_db_name("wp_func")
        try:
            yield kind, uri, name
        finally:
            with MongoClient(uri) as client:
                client.drop_database(name)


def run(database: tuple[str, str, str], phase: str, mode: str, log: Path) -> subprocess.CompletedProcess:
    kind, target, db = database
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-c", PROGRAM, kind, target, db or "-", phase, mode, str(log)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def runs(log: Path) -> list[str]:
    return log.read_text().split()


def test_interrupted_in_a_task_resumed_by_another_process(database: tuple[str, str, str], tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    first = run(database, "1", "interrupt", log)
    assert first.returncode == 0, first.stderr
    assert "__interrupt__" in first.stdout and "'value': 11" in first.stdout
    assert runs(log) == ["fetch", "enrich", "approve"]
    second = run(database, "2", "interrupt", log)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "'11:yes'"
    # fetch and enrich had finished: their saved results were used, not run again
    assert runs(log) == ["fetch", "enrich", "approve", "approve", "finish"]


def test_process_died_in_a_task_resumed_by_another_process(database: tuple[str, str, str], tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    first = run(database, "1", "crash", log)
    assert first.returncode == 3, first.stderr
    assert runs(log) == ["fetch", "enrich", "approve"]
    second = run(database, "2", "crash", log)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "'11:auto'"
    assert runs(log) == ["fetch", "enrich", "approve", "approve", "finish"]
