"""``waypoint migrate --from langgraph+sqlite:///... / langgraph+postgresql://...``: databases
made by real LangGraph runs (messages, pydantic state, interrupts, a fork) move to every
waypoint backend, every checkpoint verified, and the interrupted thread resumes on waypoint.
The same URLs open read-only in ``threads``/``history``/``show``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.backends._postgres import PLAIN_URL, fresh_database
from tests.cli.conftest import _pg_url, fail, run
from tests.langgraph_adapters import _lg_program

I = ("-I", "tests.langgraph_adapters._lg_program")  # the state's Note class, as a user would


@pytest.fixture(scope="module")
def lg_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = tmp_path_factory.mktemp("lg") / "langgraph.db"
    with SqliteSaver.from_conn_string(str(path)) as saver:
        _lg_program.populate(_lg_program.build("langgraph", saver))
    return f"langgraph+sqlite:///{path}"


@pytest.fixture(scope="module")
def lg_postgres() -> Iterator[str]:
    from langgraph.checkpoint.postgres import PostgresSaver

    with fresh_database(PLAIN_URL, "wp_lgsrc") as conninfo:
        url = _pg_url(conninfo)
        with PostgresSaver.from_conn_string(url) as saver:
            saver.setup()
            _lg_program.populate(_lg_program.build("langgraph", saver))
        yield f"langgraph+{url}"


def _target(kind: str, tmp_path: Path, stack: Any) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'target.db'}"
    if kind == "postgres":
        return _pg_url(stack.enter_context(fresh_database(PLAIN_URL, "wp_lgdst")))
    from tests.backends._mongo_server import mongo_uri, new_db_name

    name = new_db_name("wp_lgdst")
    base, _, query = mongo_uri().partition("?")
    return f"{base.rstrip('/')}/{name}?{query}"


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


@pytest.mark.parametrize("source", ["sqlite", "postgres"])
@pytest.mark.parametrize("target", ["sqlite", "postgres", "mongodb"])
def test_migrate_langgraph_database(source: str, target: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from contextlib import ExitStack

    src = request.getfixturevalue("lg_sqlite" if source == "sqlite" else "lg_postgres")
    with ExitStack() as stack:
        dst = _target(target, tmp_path, stack)
        out = run(*I, "migrate", "--from", src, "--to", dst, "--json").json
        import sqlite3 as _sq
        if source == "sqlite":
            with _sq.connect(src.split(":///", 1)[1]) as conn:
                total = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
        else:
            import psycopg

            with psycopg.connect(src.replace("langgraph+", "")) as conn:
                total = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
        assert (out["threads"], out["checkpoints"], out["verified"]) == (3, total, total)
        # the imported history reads the same through waypoint as LangGraph wrote it
        for thread in ("done", "forked", "waiting"):
            ours = run(*I, "history", thread, "--json", url=dst).json
            theirs = run(*I, "history", thread, "--json", url=src).json
            assert ours == theirs and len(ours["checkpoints"]) >= 3
        final = _resume_on_waypoint(dst)
        assert final["approved"] == "approved on waypoint"
        assert [m.content for m in final["messages"]] == ["please review", "echo: please review"]
        assert final["note"].title == "please review" and final["note"].tags == ["x"]
        if target == "mongodb":
            from pymongo import MongoClient

            with MongoClient(dst) as client:
                client.drop_database(dst.rsplit("/", 1)[1].split("?")[0])


@pytest.mark.parametrize("source", ["sqlite", "postgres"])
def test_langgraph_url_opens_read_only_in_the_cli(source: str, request: pytest.FixtureRequest) -> None:
    src = request.getfixturevalue("lg_sqlite" if source == "sqlite" else "lg_postgres")
    threads = run(*I, "threads", "--json", url=src).json
    assert sorted(t["thread_id"] for t in threads["threads"]) == ["done", "forked", "waiting"]
    shown = run(*I, "show", "waiting", "--json", url=src).json
    assert "please review" in str(shown)
    assert "read-only" in fail("migrate", "--from", src.replace("langgraph+", ""), "--to", src)
