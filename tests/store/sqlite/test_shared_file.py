"""A SQLite saver and an indexed SQLite store on one file in one process.

The indexed store needs a SQLite that can load sqlite-vec (``sqlean``). If the saver opened the
same file with the standard library's SQLite, the process would hold two SQLite libraries whose
POSIX locks ignore each other, and store writes made while graph runs wrote checkpoints were
lost (seen: a memory saved by a tool missing after the run). Every connection waypoint opens is
now from one library.
"""

from __future__ import annotations

import operator
import sqlite3
import threading
from pathlib import Path
from typing import Annotated, TypedDict

import pytest

from waypoint.checkpoint.sqlite import SqliteSaver
from waypoint.checkpoint.sqlite.aio import AsyncSqliteSaver
from waypoint.graph import END, START, StateGraph
from waypoint.store.sqlite import AsyncSqliteStore, SqliteStore


def embed(texts: list[str]) -> list[list[float]]:
    return [[float(len(t)), 1.0] for t in texts]


INDEX = {"dims": 2, "embed": embed, "fields": ["text"]}


class S(TypedDict):
    log: Annotated[list, operator.add]


def test_saver_and_indexed_store_use_one_sqlite_library(tmp_path: Path) -> None:
    path = tmp_path / "one.db"
    with SqliteSaver.from_conn_string(path) as saver, SqliteStore.from_conn_string(path, index=INDEX) as store:
        assert type(saver.conn).__module__ == type(store.conn).__module__


async def test_async_saver_and_indexed_store_use_one_sqlite_library(tmp_path: Path) -> None:
    path = tmp_path / "one.db"
    async with AsyncSqliteSaver.from_conn_string(path) as saver, AsyncSqliteStore.from_conn_string(path, index=INDEX) as store:
        await saver.setup()
        await store.setup()
        assert type(saver.conn._conn).__module__ == type(store.conn._conn).__module__


def test_store_writes_from_worker_threads_survive_graph_runs(tmp_path: Path) -> None:
    path = tmp_path / "one.db"
    with SqliteSaver.from_conn_string(path) as saver, SqliteStore.from_conn_string(path, index=INDEX) as store:
        store.setup()

        def remember(state: S, config) -> dict:
            n = len(state["log"])
            t = threading.Thread(target=store.put, args=(("mem",), f"k{n}", {"text": "x" * n}))
            t.start()
            t.join()
            return {"log": [n]}

        g = StateGraph(S)
        g.add_node("remember", remember)
        g.add_edge(START, "remember")
        g.add_edge("remember", END)
        app = g.compile(checkpointer=saver, store=store)
        cfg = {"configurable": {"thread_id": "t"}}
        for _ in range(20):
            app.invoke({"log": []}, cfg)
        assert len(store.search(("mem",), limit=100)) == 20
    rows = sqlite3.connect(path).execute("select count(*) from waypoint_store").fetchone()[0]
    assert rows == 20


@pytest.mark.parametrize("rounds", [3])
def test_reopened_file_keeps_every_item(tmp_path: Path, rounds: int) -> None:
    path = tmp_path / "one.db"
    for r in range(rounds):
        with SqliteSaver.from_conn_string(path) as saver, SqliteStore.from_conn_string(path, index=INDEX) as store:
            store.setup()
            saver.setup()
            store.put(("mem",), f"r{r}", {"text": "y"})
    with SqliteStore.from_conn_string(path, index=INDEX) as store:
        assert sorted(i.key for i in store.search(("mem",))) == [f"r{r}" for r in range(rounds)]
