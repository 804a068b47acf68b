"""Thread pages and checkpoint headers, the reads behind the web inspector's threads list and
history tree, on SQLite, PostgreSQL and MongoDB: keyset paging by the database, id text search
(LIKE/regex metacharacters taken literally), metadata filters, headers without values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import _graph
from waypoint.cli._urls import open_saver
from waypoint.cli._walk import headers, thread_page

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
