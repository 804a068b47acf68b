"""Thread pages and checkpoint headers, the reads behind ``waypoint threads``, the web
inspector's threads list and history tree, on SQLite, PostgreSQL, MongoDB (and in memory):
keyset paging by the database (most recently updated first, cursors), id text search
(LIKE/regex metacharacters taken literally), metadata filters, summaries kept through deletes,
copies and prunes, headers without values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli import _graph
from waypoint.cli._urls import open_saver
from waypoint.cli._inspect import next_nodes
from waypoint.cli._listing import count_threads
from waypoint.cli._walk import headers, summaries, thread_page

IDS = {"a_b": {"team": "x"}, "axb": {"team": "y"}, "a%c": {"team": "x"}, "zeta.1": {"team": "y"}, "zeta-2": {"team": "x", "n": 2}}


@pytest.fixture(params=["sqlite", "postgres", "mongodb"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    kind = request.param
    u = f"sqlite:///{tmp_path / 'p.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url" if kind == "postgres" else "mongo_url")
    with open_saver(u, create=True) as saver:
        _graph.populate(saver, IDS, {"zeta.1"})
    return u


def test_thread_pages(url: str) -> None:
    with open_saver(url) as saver:
        everything = sorted(IDS)
        assert thread_page(saver, limit=100) == everything
        first = thread_page(saver, limit=2)
        second = thread_page(saver, after=first[-1], limit=2)
        third = thread_page(saver, after=second[-1], limit=2)
        assert first + second + third == everything and len(third) == 1
        assert thread_page(saver, contains="a_b") == ["a_b"]  # "_" is not a wildcard
        assert thread_page(saver, contains="%") == ["a%c"]
        assert thread_page(saver, contains=".") == ["zeta.1"]  # nor is "." a regex
        assert thread_page(saver, filter={"team": "x"}) == ["a%c", "a_b", "zeta-2"]
        assert thread_page(saver, filter={"team": "x"}, after="a_b", limit=5) == ["zeta-2"]
        assert thread_page(saver, filter={"team": "x", "n": 2}, contains="zeta") == ["zeta-2"]
        assert thread_page(saver, filter={"team": "nobody"}) == []


def test_headers_are_checkpoints_without_values(url: str) -> None:
    with open_saver(url) as saver:
        full = list(saver.list({"configurable": {"thread_id": "zeta.1", "checkpoint_ns": ""}}))
        heads = headers(saver, "zeta.1")
        assert [h.config for h in heads] == [t.config for t in full]
        assert [h.parent_config for h in heads] == [t.parent_config for t in full]
        assert [h.metadata for h in heads] == [t.metadata for t in full]
        assert all(h.checkpoint["channel_values"] == {} for h in heads)
        assert [h.checkpoint["versions_seen"] for h in heads] == [t.checkpoint["versions_seen"] for t in full]
        assert [[(w[0], w[1]) for w in h.pending_writes] for h in heads] == [[(w[0], w[1]) for w in t.pending_writes] for t in full]
        assert all(w[2] is None for h in heads for w in h.pending_writes)
        older = headers(saver, "zeta.1", before=heads[1].config["configurable"]["checkpoint_id"], limit=2)
        assert [h.config for h in older] == [t.config for t in full[2:4]]


@pytest.fixture(params=["sqlite", "postgres", "mongodb", "memory"])
def saver_of(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A populated saver of each backend (IDS run in order; zeta.1 finished)."""
    kind = request.param
    if kind == "memory":
        from waypoint.checkpoint.memory import InMemorySaver

        saver = InMemorySaver()
        _graph.populate(saver, IDS, {"zeta.1"})
        yield saver
        return
    u = f"sqlite:///{tmp_path / 'p.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url" if kind == "postgres" else "mongo_url")
    with open_saver(u, create=True) as saver:
        _graph.populate(saver, IDS, {"zeta.1"})
        yield saver


def test_summaries_page_most_recent_first_with_cursors(saver_of: Any) -> None:
    saver = saver_of
    newest_first = list(reversed(IDS))  # populate ran them in order
    got = summaries(saver, limit=100)
    assert [s.thread_id for s in got] == newest_first
    keys = [(s.newest_id, s.thread_id) for s in got]
    assert keys == sorted(keys, reverse=True)
    pages, after = [], None
    while page := summaries(saver, after=after, limit=2):
        pages.append([s.thread_id for s in page])
        after = (page[-1].newest_id, page[-1].thread_id)
    assert pages == [newest_first[:2], newest_first[2:4], newest_first[4:]]
    by_id = {s.thread_id: s for s in got}
    done, waiting = by_id["zeta.1"], by_id["a_b"]
    assert (done.checkpoints, done.namespaces, waiting.checkpoints) == (5, 1, 3)
    assert done.bytes > waiting.bytes > 0
    assert next_nodes(waiting.latest) == ("approve",) and next_nodes(done.latest) == ()
    assert [ch for _, ch, _ in waiting.latest.pending_writes] == ["__interrupt__"]
    assert waiting.latest.metadata["step"] == 1 and waiting.latest.metadata["team"] == "x"
    # values of the state are not read: only the trigger channels
    assert set(waiting.latest.checkpoint["channel_values"]) <= {"branch:to:approve", "__start__"}
    assert [s.thread_id for s in summaries(saver, contains="a_b")] == ["a_b"]
    assert [s.thread_id for s in summaries(saver, contains="%")] == ["a%c"]
    assert [s.thread_id for s in summaries(saver, filter={"team": "x"})] == ["zeta-2", "a%c", "a_b"]
    assert [s.thread_id for s in summaries(saver, filter={"team": "x"}, limit=1, after=keys[0])] == ["a%c"]
    assert summaries(saver, filter={"team": "nobody"}) == []
    assert count_threads(saver) == 5 and count_threads(saver, {"team": "y"}) == 2


def test_summaries_follow_deletes_copies_and_prunes(saver_of: Any) -> None:
    saver = saver_of
    saver.delete_thread("zeta-2")
    saver.copy_thread("a_b", "copy")
    got = {s.thread_id: s for s in summaries(saver, limit=100)}
    assert set(got) == set(IDS) - {"zeta-2"} | {"copy"}
    assert got["copy"].checkpoints == 3 and got["copy"].newest_id == got["a_b"].newest_id
    saver.prune(["zeta.1"], strategy="keep_latest")
    after = {s.thread_id: s for s in summaries(saver, limit=100)}
    assert after["zeta.1"].checkpoints == 1 and after["zeta.1"].newest_id == got["zeta.1"].newest_id
    assert count_threads(saver) == 5


def test_inspector_threads_page_walks_by_cursor_without_reading_state(saver_of: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from waypoint.ui import _pages

    monkeypatch.setattr(_pages, "THREADS_PER_PAGE", 2)
    monkeypatch.setattr(saver_of, "get_tuple", lambda *a, **k: pytest.fail("a thread's state was read"))
    seen, after = [], None
    while True:
        data = _pages.thread_rows(saver_of, after=after, q="", filter={})
        seen.append([r["thread_id"] for r in data["rows"]])
        if data["next_after"] is None:
            break
        after = data["next_after"]
    assert seen == [["zeta-2", "zeta.1"], ["a%c", "axb"], ["a_b"]]
    waiting = _pages.thread_rows(saver_of, after=None, q="a_b", filter={})["rows"][0]
    assert (waiting["next"], waiting["interrupts"], waiting["step"]) == (["approve"], 1, 1) and waiting["bytes"] > 0
    with pytest.raises(Exception, match="malformed --after cursor"):
        _pages.thread_rows(saver_of, after="nocolon", q="", filter={})
