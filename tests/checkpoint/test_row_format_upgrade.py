"""Databases written by the schema-3 row format stay readable and writable after upgrade.

``data/schema_v3.db`` was written by that code (``_v3_workload.make_fixture``): a chat, a
3-node graph, a fork made by ``update_state`` and an interrupted run, with one blob row per
changed channel and full pending writes. ``data/schema_v3.expected`` holds what that code read
back. Today's savers must read every checkpoint of it exactly, on SQLite and (rows copied into
a schema-3 PostgreSQL database) PostgreSQL, then keep writing to the same threads.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.backends.postgres_saver import fresh_database
from tests.checkpoint._v3_workload import DATA, ask_app, chat_app, every_tuple, small_app
from waypoint._ops import run
from waypoint.checkpoint._sql import ops
from waypoint.checkpoint._sql.postgres_sql import POSTGRES
from waypoint.checkpoint.postgres import PostgresSaver
from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer
from waypoint.checkpoint.sqlite import SqliteSaver
from waypoint.types import Command

TABLES = ("waypoint_checkpoints", "waypoint_blobs", "waypoint_lineages", "waypoint_log_chunks", "waypoint_writes")


def _expected() -> list[Any]:
    type_, _, data = (DATA / "schema_v3.expected").read_bytes().partition(b"\n")
    return JsonPlusSerializer().loads_typed((type_.decode(), data))


def _copy_into_postgres(url: str) -> None:
    """Schema 3 on PostgreSQL (its first three migrations), filled with the fixture's rows."""
    old = dataclasses.replace(POSTGRES, migrations=POSTGRES.migrations[:3])
    src = sqlite3.connect(DATA / "schema_v3.db")
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            _run_setup(cur, old)
            for table in TABLES:
                cur.execute(f"SELECT * FROM {table} LIMIT 0")
                cols = [c.name for c in cur.description]
                rows = src.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
                marks = ", ".join(["%s"] * len(cols))
                cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)
    src.close()


def _run_setup(cur: Any, dialect: Any) -> None:
    from waypoint.checkpoint._sql.requests import Execute, ExecuteMany, Fetch

    def execute(req: Any) -> Any:
        if isinstance(req, ExecuteMany):
            cur.executemany(req.sql, req.params)
            return None
        cur.execute(req.sql, req.params)
        return cur.fetchall() if isinstance(req, Fetch) else None

    run(ops.setup(dialect), execute)


@pytest.fixture(params=["sqlite", "postgres"])
def old_saver(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    if request.param == "sqlite":
        path = tmp_path / "old.db"
        shutil.copy(DATA / "schema_v3.db", path)
        conn = sqlite3.connect(path, check_same_thread=False)
        assert [r[0] for r in conn.execute("SELECT v FROM waypoint_checkpoint_migrations")] == [1, 2, 3]
        yield SqliteSaver(conn)
        conn.close()
    else:
        with fresh_database() as url:
            _copy_into_postgres(url)
            with PostgresSaver.from_conn_string(url) as saver:
                yield saver


def test_schema_3_rows_read_back_exactly_and_keep_growing(old_saver: Any) -> None:
    old_saver.setup()  # migrates
    assert every_tuple(old_saver) == _expected()

    chat = chat_app(old_saver)
    cfg = {"configurable": {"thread_id": "chat"}}
    before = chat.get_state(cfg).values["messages"]
    from langchain_core.messages import HumanMessage

    chat.invoke({"messages": [HumanMessage(content="question 4", id="u4")]}, cfg)
    after = chat.get_state(cfg).values["messages"]
    assert after[: len(before)] == before and [m.id for m in after[len(before):]] == ["u4", f"a{len(before) + 1}"]

    small = small_app(old_saver)
    cfg = {"configurable": {"thread_id": "small"}}
    prior = small.get_state(cfg).values
    small.invoke({"items": ["third"]}, cfg)
    now = small.get_state(cfg).values
    assert now["items"][: len(prior["items"])] == prior["items"] and now["count"] == prior["count"] + 1
    assert now["big"] == "y" * 600 and now["data"] == {"k": [1, 2.5, "z"], "t": (1, 2)}

    ask = ask_app(old_saver)
    cfg = {"configurable": {"thread_id": "ask"}}
    assert ask.get_state(cfg).next == ("ask",)
    ask.invoke(Command(resume="ada"), cfg)
    assert ask.get_state(cfg).values["note"] == "ada"

    # the old rows are untouched by the new writes (the resume added writes to ask's): exact
    old = {t[0]["configurable"]["checkpoint_id"] for t in _expected()}
    again = [t for t in every_tuple(old_saver) if t[0]["configurable"]["checkpoint_id"] in old]
    assert [t for t in again if t[0]["configurable"]["thread_id"] != "ask"] == [
        t for t in _expected() if t[0]["configurable"]["thread_id"] != "ask"]
