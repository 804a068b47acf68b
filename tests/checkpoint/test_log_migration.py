"""Schema version 2 of the SQL savers: log pages become log chunks without losing a version.

A database in the version-1 layout is made the honest way: a real graph writes a long list
channel, then its chunk rows are rewritten into version 1's ``waypoint_log_pages`` (one row
of up to 64 own items per page number) and the version-2 marker is removed. ``setup()`` must
migrate it, every stored version must read back unchanged, and the thread must keep growing.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Iterator
from typing import Annotated, Any

import psycopg
import pytest
from typing_extensions import TypedDict

from tests.backends.postgres_saver import fresh_database
from waypoint.checkpoint._sql.postgres_sql import POSTGRES
from waypoint.checkpoint._sql.sqlite_sql import SQLITE
from waypoint.checkpoint.postgres import PostgresSaver
from waypoint.checkpoint.sqlite import SqliteSaver
from waypoint.graph import END, START, StateGraph

OLD_PAGE = 64  # the page size of the version-1 layout


class State(TypedDict):
    log: Annotated[list, operator.add]


def _app(saver: Any) -> Any:
    def node(state: State) -> dict[str, Any]:
        return {"log": [f"reply {len(state['log'])}"]}

    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    builder.add_edge("node", END)
    return builder.compile(checkpointer=saver)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[Any, Any, Any]]:
    """(saver, dialect, raw connection) on a database of the test's own."""
    if request.param == "sqlite":
        conn = sqlite3.connect(tmp_path / "cp.db", check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver, SQLITE, conn
        conn.close()
    else:
        with fresh_database() as url, PostgresSaver.from_conn_string(url) as saver:
            saver.setup()
            with psycopg.connect(url, autocommit=True) as raw:
                yield saver, POSTGRES, raw


def _downgrade(saver: Any, d: Any, conn: Any) -> int:
    """Rewrite the chunk rows into version 1's page rows; returns the page rows written."""
    rows = conn.execute(
        "SELECT thread_id, checkpoint_ns, lineage_id, first_item, type, items FROM waypoint_log_chunks"
    ).fetchall()
    own: dict[tuple[str, str, str], list[tuple[int, list[Any]]]] = {}
    for t, ns, lid, first, type_, items in rows:
        own.setdefault((t, ns, lid), []).append((first, saver.serde.loads_typed((type_, bytes(items)))))
    conn.execute(d.migrations[0][[i for i, s in enumerate(d.migrations[0]) if "waypoint_log_pages" in s][0]])
    pages = []
    for (t, ns, lid), chunks in own.items():
        items = [item for _, part in sorted(chunks, key=lambda c: c[0]) for item in part]
        for page in range(0, (len(items) + OLD_PAGE - 1) // OLD_PAGE):
            part = items[page * OLD_PAGE : (page + 1) * OLD_PAGE]
            pages.append((t, ns, lid, page, *saver.serde.dumps_typed(part)))
    for row in pages:
        conn.execute(
            d.q("INSERT INTO waypoint_log_pages (thread_id, checkpoint_ns, lineage_id, page, type, items) "
                "VALUES (?, ?, ?, ?, ?, ?)"),
            row,
        )
    conn.execute("DROP TABLE waypoint_log_chunks")
    conn.execute("DELETE FROM waypoint_checkpoint_migrations WHERE v = 2")
    if isinstance(conn, sqlite3.Connection):
        conn.commit()
    return len(pages)


def test_version_1_log_pages_migrate_to_chunks(backend: tuple[Any, Any, Any]) -> None:
    saver, d, conn = backend
    app = _app(saver)
    config = {"configurable": {"thread_id": "t"}}
    for turn in range(80):  # 160 items: two full old pages and a partial one
        app.invoke({"log": [f"user {turn}"]}, config)
    before = [(s.config["configurable"]["checkpoint_id"], s.values) for s in app.get_state_history(config)]
    assert len(before[0][1]["log"]) == 160

    assert _downgrade(saver, d, conn) == 3
    saver.setup()  # runs migration 2

    assert [r[0] for r in conn.execute("SELECT v FROM waypoint_checkpoint_migrations ORDER BY v")] == list(range(1, len(d.migrations) + 1))
    after = [(s.config["configurable"]["checkpoint_id"], s.values) for s in app.get_state_history(config)]
    assert after == before
    app.invoke({"log": ["user 80"]}, config)
    assert app.get_state(config).values["log"] == before[0][1]["log"] + ["user 80", "reply 161"]
