"""One corrupt row must not block every listing: the saver's ``list`` raises a named
CorruptCheckpointError when it reaches that row (after the rows before it), and the commands
that walk many threads skip the damaged threads, report them on stderr and exit non-zero."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.cli import _graph
from tests.cli.conftest import FINISHED, THREADS, run
from tests.cli.test_transfer import _open

BAD_JSON, BAD_BLOB = "chat-alice-1", "chat-alice-2"  # the oldest two: newer threads list before them
GOOD = sorted(set(THREADS) - {BAD_JSON, BAD_BLOB})


def _latest(url: str, thread: str) -> str:
    with _open(url) as saver:
        return next(iter(saver.list({"configurable": {"thread_id": thread}}, limit=1))).config["configurable"]["checkpoint_id"]


def _corrupt(kind: str, url: str) -> dict[str, str]:
    """Break BAD_JSON's latest checkpoint row (its channel versions) and BAD_BLOB's ``count``
    blobs (their bytes; on SQL, where a small ``count`` lives in the checkpoint row, its
    ``messages`` log) with direct SQL / Mongo updates; returns thread -> checkpoint id."""
    ids = {t: _latest(url, t) for t in (BAD_JSON, BAD_BLOB)}
    if kind == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("UPDATE waypoint_checkpoints SET channel_versions = '{not json' WHERE thread_id = ? AND checkpoint_id = ?", (BAD_JSON, ids[BAD_JSON]))
            conn.execute("UPDATE waypoint_log_chunks SET items = x'c1c1c1' WHERE thread_id = ?", (BAD_BLOB,))
    elif kind == "postgres":
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE waypoint_checkpoints SET channel_versions = '[1, 2]'::jsonb WHERE thread_id = %s AND checkpoint_id = %s", (BAD_JSON, ids[BAD_JSON]))
            conn.execute("UPDATE waypoint_log_chunks SET items = '\\xc1c1c1'::bytea WHERE thread_id = %s", (BAD_BLOB,))
    else:
        from bson import Binary
        from pymongo import MongoClient

        with MongoClient(url) as client:
            db = client.get_default_database()
            db.checkpoints.update_one({"thread_id": BAD_JSON, "checkpoint_id": ids[BAD_JSON]}, {"$set": {"checkpoint": Binary(b"\xc1\xc1")}})
            db.checkpoint_blobs.update_many({"thread_id": BAD_BLOB, "channel": "count"}, {"$set": {"value": Binary(b"\xc1\xc1\xc1")}})
    return ids


@pytest.fixture(params=["sqlite", "postgres", "mongodb"])
def corrupt_db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    kind = request.param
    url = f"sqlite:///{tmp_path / 'corrupt.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url" if kind == "postgres" else "mongo_url")
    with _open(url) as saver:
        _graph.populate(saver, THREADS, FINISHED)
    return url, _corrupt(kind, url)


def _skipped(err: str) -> None:
    lines = err.strip().splitlines()
    for thread in (BAD_JSON, BAD_BLOB):
        [line] = [x for x in lines if x.startswith(f"skipped thread {thread!r}")]
        assert "CorruptCheckpointError" in line and f"thread_id={thread!r}" in line, line
    assert lines[-1] == "Error: 2 thread(s) could not be read and were skipped: 2 with corrupt checkpoints", lines


def test_saver_list_names_the_corrupt_row_only_when_it_reaches_it(corrupt_db: tuple[str, dict[str, str]]) -> None:
    from waypoint.errors import CorruptCheckpointError

    url, ids = corrupt_db
    with _open(url) as saver:
        for thread in GOOD:  # other threads list fine
            assert len(list(saver.list({"configurable": {"thread_id": thread}}))) in (3, 5)
        emitted: list[Any] = []
        with pytest.raises(CorruptCheckpointError) as info:
            for t in saver.list(None):
                emitted.append(t)
        err = info.value
        assert err.thread_id in (BAD_JSON, BAD_BLOB) and err.checkpoint_id is not None, err
        assert f"thread_id={err.thread_id!r}" in str(err) and f"checkpoint_id={err.checkpoint_id!r}" in str(err)
        # every row listed before the corrupt one came out first (newest first)
        assert emitted and all(t.config["configurable"]["checkpoint_id"] >= err.checkpoint_id for t in emitted)
        assert len(emitted) >= 3
        with pytest.raises(CorruptCheckpointError, match=f"thread_id='{BAD_JSON}'"):
            list(saver.list({"configurable": {"thread_id": BAD_JSON}}))
        with pytest.raises(CorruptCheckpointError, match=f"thread_id='{BAD_BLOB}'.*channel='(count|messages)'"):
            saver.get_tuple({"configurable": {"thread_id": BAD_BLOB}})


def test_commands_that_walk_every_thread_skip_and_report_corrupt_threads(corrupt_db: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, _ = corrupt_db
    # the listing reads each thread's newest checkpoint row but no values: a broken row is
    # skipped and reported, a broken value (BAD_BLOB's counter) shows only where values are read
    result = run("threads", "--json", url=url, ok=False)
    assert result.code == 1 and sorted(r["thread_id"] for r in result.json["threads"]) == sorted([*GOOD, BAD_BLOB]), result
    lines = result.err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"skipped thread {BAD_JSON!r}: CorruptCheckpointError"), lines
    assert lines[-1] == "Error: 1 thread(s) could not be read and were skipped: 1 with corrupt checkpoints", lines

    result = run("stats", "--scan", "--json", url=url, ok=False)
    assert result.code == 1 and result.json["threads"] == 2 and result.json["checkpoints"] == 8, result
    _skipped(result.err)

    out = tmp_path / "all.jsonl"
    result = run("export", "--all", "-o", str(out), "--json", url=url, ok=False)
    assert result.code == 1 and result.json["threads"] == 2, result
    _skipped(result.err)
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    assert run("import", str(out), "--json", url=target).json["threads"] == 2

    copy = f"sqlite:///{tmp_path / 'migrated.db'}"
    result = run("migrate", "--from", url, "--to", copy, "--json", ok=False)
    assert result.code == 1 and result.json["threads"] == 2 and result.json["verified"] == 8, result
    _skipped(result.err)
    assert sorted(r["thread_id"] for r in run("threads", "--json", url=copy).json["threads"]) == GOOD

    # the way out: a damaged thread can be deleted by id, and then nothing is skipped
    plan = run("delete", "--thread", BAD_JSON, "--thread", BAD_BLOB, "--yes", "--json", url=url).json
    assert [(p["thread_id"], p.get("corrupt")) for p in plan["threads"]] == [(BAD_JSON, True), (BAD_BLOB, True)]
    assert sorted(r["thread_id"] for r in run("threads", "--json", url=url).json["threads"]) == GOOD
    assert run("stats", "--json", url=url).json["threads"] == 2

