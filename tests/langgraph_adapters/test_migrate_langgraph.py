"""``waypoint migrate --from langgraph+sqlite:///... / langgraph+postgresql://...``: databases
made by real LangGraph runs (messages, pydantic state, interrupts, a fork) and LangGraph's own
store (items with vectors, a TTL, an expired item) move to every waypoint backend: every
checkpoint and store item verified, vectors copied (semantic search ranks as on LangGraph), and
the interrupted thread resumes on waypoint. The same URLs open read-only in the CLI.

Each LangGraph source database is built once per module; the matrix is the combinations that
exercise each reader and each writer once."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.backends._pgvector_server import pgvector_url
from tests.backends._postgres import fresh_database
from tests.cli.conftest import fail, run
from tests.langgraph_adapters import _lg_program

I = ("-I", "tests.langgraph_adapters._lg_program")  # the state's Note class, as a user would


def _url(conninfo: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    c = conninfo_to_dict(conninfo)
    return f"postgresql://{c.get('user', 'postgres')}@{c['host']}:{c['port']}/{c['dbname']}"


def _expected(store: Any) -> tuple[dict[tuple, Any], dict[str, list[tuple]]]:
    """Every live item (by namespace and key) and LangGraph's ranking for each query (LangGraph's
    SqliteStore still lists the expired item until its sweeper runs; waypoint hides it)."""
    items = {(tuple(i.namespace), i.key): i for i in store.search((), limit=100) if i.key != "gone"}
    ranks = {q: [(tuple(i.namespace), i.key, round(i.score or 0, 4)) for i in store.search((), query=q, limit=100)
                 if i.score is not None and i.key != "gone"]
             for q in _lg_program.QUERIES}
    return items, ranks


@pytest.fixture(scope="module")
def lg_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    import sqlean  # LangGraph's SqliteStore loads sqlite-vec, which the stdlib sqlite3 here cannot
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.store.sqlite import SqliteStore

    path = tmp_path_factory.mktemp("lg") / "langgraph.db"
    with SqliteSaver.from_conn_string(str(path)) as saver:
        _lg_program.populate(_lg_program.build("langgraph", saver))
    conn = sqlean.connect(str(path), check_same_thread=False, isolation_level=None)
    try:
        store = SqliteStore(conn, index=_lg_program.INDEX)  # type: ignore[arg-type]
        store.setup()
        _lg_program.populate_store(store)
        yield f"langgraph+sqlite:///{path}", _expected(store)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def lg_postgres() -> Iterator[tuple[str, Any]]:
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.store.postgres import PostgresStore

    with fresh_database(pgvector_url(), "wp_lgsrc") as conninfo:
        url = _url(conninfo)
        with PostgresSaver.from_conn_string(url) as saver, PostgresStore.from_conn_string(url, index=_lg_program.INDEX) as store:  # type: ignore[arg-type]
            saver.setup()
            store.setup()
            _lg_program.populate(_lg_program.build("langgraph", saver))
            _lg_program.populate_store(store)
            yield f"langgraph+{url}", _expected(store)


def _target(kind: str, tmp_path: Path, stack: ExitStack) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'target.db'}"
    if kind == "postgres":  # pgvector: the copied vectors need it
        return _url(stack.enter_context(fresh_database(pgvector_url(), "wp_lgdst")))
    from pymongo import MongoClient

    from tests.backends._mongo_server import mongo_uri, new_db_name

    name = new_db_name("wp_lgdst")
    base, _, query = mongo_uri().partition("?")
    url = f"{base.rstrip('/')}/{name}?{query}"
    stack.callback(lambda: MongoClient(url).drop_database(name))
    return url


def _resume_on_waypoint(url: str) -> dict:
    from waypoint.cli._urls import open_saver
    from waypoint.types import Command

    with open_saver(url) as saver:
        graph = _lg_program.build("waypoint", saver)
        cfg = {"configurable": {"thread_id": "waiting"}}
        snap = graph.get_state(cfg)
        assert snap.next == ("review",)
        assert snap.interrupts[0].value == {"approve": "please review"}
        out = graph.invoke(Command(resume="approved on waypoint"), cfg)
        assert graph.get_state(cfg).next == ()
        return out


def _utc(when: Any) -> Any:
    from datetime import timezone

    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when  # LangGraph's SQLite: naive UTC


def _check_store(url: str, expected: tuple[dict[tuple, Any], dict[str, list[tuple]]]) -> None:
    """The target's items equal LangGraph's (values, timestamps) and a semantic search with the
    same embedding ranks them with the same scores (the copied vectors)."""
    from waypoint.cli._urls import open_store

    items, ranks = expected
    with open_store(url, index=_lg_program.INDEX) as store:
        ours = {(tuple(i.namespace), i.key): i for i in store.search((), limit=100)}
        assert set(ours) == set(items) and ("users", "u3") not in {ns for ns, _ in ours}
        for k, theirs in items.items():
            assert ours[k].value == theirs.value
            assert abs((ours[k].created_at - _utc(theirs.created_at)).total_seconds()) < 0.002
            assert abs((ours[k].updated_at - _utc(theirs.updated_at)).total_seconds()) < 0.002
        for q, ranked in ranks.items():
            got = [(tuple(i.namespace), i.key, round(i.score or 0, 4)) for i in store.search((), query=q, limit=100)
                   if i.score is not None and i.key != "gone"]
            # same order; scores equal to float32 (SQLite, MongoDB) or half precision (PostgreSQL: halfvec)
            assert [g[:2] for g in got] == [r[:2] for r in ranked], q
            assert all(abs(g[2] - r[2]) <= 0.005 for g, r in zip(got, ranked)), (q, got, ranked)


@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgres"), ("postgres", "sqlite"), ("sqlite", "mongodb")])
def test_migrate_langgraph_database(source: str, target: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    src, expected = request.getfixturevalue(f"lg_{source}")
    with ExitStack() as stack:
        dst = _target(target, tmp_path, stack)
        dry = run(*I, "migrate", "--from", src, "--to", dst, "--dry-run", "--json").json
        assert dry["store"]["items"] == len(expected[0]) + 1  # the expired item is still a row
        out = run(*I, "migrate", "--from", src, "--to", dst, "--json").json
        if source == "sqlite":
            import sqlite3

            with sqlite3.connect(src.split(":///", 1)[1]) as conn:
                total = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
                vectors = conn.execute("SELECT count(*) FROM store_vectors WHERE key != 'gone'").fetchone()[0]
        else:
            import psycopg

            with psycopg.connect(src.replace("langgraph+", "")) as conn:
                total = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
                vectors = conn.execute("SELECT count(*) FROM store_vectors WHERE key != 'gone'").fetchone()[0]
        assert (out["threads"], out["checkpoints"], out["verified"]) == (3, total, total)
        n = len(expected[0])
        assert out["store"] == {"items": n, "vectors": vectors, "expired": 1, "verified": n}
        # the imported history reads the same through waypoint as LangGraph wrote it (migrate
        # compared every checkpoint already; the fork's tree through the CLI once)
        ours = run(*I, "history", "forked", "--json", url=dst).json
        theirs = run(*I, "history", "forked", "--json", url=src).json
        assert ours == theirs and len(ours["checkpoints"]) >= 3
        _check_store(dst, expected)
        final = _resume_on_waypoint(dst)
        assert final["approved"] == "approved on waypoint"
        assert [m.content for m in final["messages"]] == ["please review", "echo: please review"]
        assert final["note"].title == "please review" and final["note"].tags == ["x"]


def test_store_vectors_of_other_dims_are_refused_before_any_item(lg_sqlite: tuple[str, Any], tmp_path: Path) -> None:
    from waypoint.store.sqlite import SqliteStore

    target = tmp_path / "other.db"
    index = {"dims": 3, "embed": lambda texts: [[1.0, 0.0, 0.0] for _ in texts], "fields": ["text"]}
    with SqliteStore.from_conn_string(str(target), index=index) as store:  # type: ignore[arg-type]
        store.put(("mine",), "k", {"text": "kept"})
    message = fail(*I, "migrate", "--from", lg_sqlite[0], "--to", f"sqlite:///{target}")
    assert "store migration failed" in message and "dims" in message
    with SqliteStore.from_conn_string(str(target)) as store:
        assert [(i.namespace, i.key) for i in store.search(())] == [(("mine",), "k")]


@pytest.mark.parametrize("source", ["sqlite", "postgres"])
def test_langgraph_url_opens_read_only_in_the_cli(source: str, request: pytest.FixtureRequest) -> None:
    src, _ = request.getfixturevalue(f"lg_{source}")
    threads = run(*I, "threads", "--json", url=src).json
    assert sorted(t["thread_id"] for t in threads["threads"]) == ["done", "forked", "waiting"]
    shown = run(*I, "show", "waiting", "--json", url=src).json
    assert "please review" in str(shown)
    assert "read-only" in fail("migrate", "--from", src.replace("langgraph+", ""), "--to", src)
    assert "LangGraph database" in fail("store", "export", "-o", "/dev/null", url=src)


def test_langgraph_url_opens_in_the_web_inspector(lg_sqlite: tuple[str, Any]) -> None:
    import os
    import re
    import subprocess
    import sys
    import urllib.request

    from tests.ui.conftest import ROOT, Server

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "waypoint.cli", *I, "--url", lg_sqlite[0], "ui"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    match = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", proc.stdout.readline())
    server = Server(proc, match.group(1) if match else "")
    try:
        assert match, proc.stderr.read() if proc.stderr else ""
        with urllib.request.urlopen(server.url, timeout=30) as resp:
            html = resp.read().decode()
    finally:
        server.stop()
    assert "read-only" in html and all(f">{t}<" in html for t in ("done", "forked", "waiting"))
