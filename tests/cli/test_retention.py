"""prune and delete: kept checkpoints stay readable and resumable; erased threads leave nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.cli import _graph
from tests.cli.conftest import FINISHED, THREADS, fail, run, sqlite_saver


def _path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _snapshot(url: str) -> dict[str, list[tuple[str, Any, Any]]]:
    """thread -> [(checkpoint id, values, pending writes)] newest first, read through the saver."""
    with sqlite_saver(_path(url)) as saver:
        out: dict[str, list[tuple[str, Any, Any]]] = {}
        for thread in THREADS:
            out[thread] = [
                (t.config["configurable"]["checkpoint_id"], t.checkpoint["channel_values"], t.pending_writes)
                for t in saver.list(_graph.config(thread))
            ]
        return out


def _counts(url: str) -> dict[str, int]:
    return {r["thread_id"]: r["checkpoints"] for r in run("threads", "--json", url=url).json["threads"]}


def test_prune_keep_last_keeps_every_kept_checkpoint_readable_and_resumable(sqlite_copy: str) -> None:
    before = _snapshot(sqlite_copy)
    dry = run("prune", "--keep-last", "2", "--dry-run", "--json", url=sqlite_copy).json
    assert dry["deleted"] == 3 + 3 + 1 + 1 and dry["dry_run"] is True
    assert {p["thread_id"]: p["delete"] for p in dry["threads"]} == {t: 3 if t in FINISHED else 1 for t in THREADS}
    assert _counts(sqlite_copy) == {t: 5 if t in FINISHED else 3 for t in THREADS}

    out = run("prune", "--keep-last", "2", url=sqlite_copy).out
    assert "deleted 8 checkpoint(s) from 4 of 4 thread(s)" in out
    assert _counts(sqlite_copy) == {t: 2 for t in THREADS}
    after = _snapshot(sqlite_copy)
    for thread in THREADS:
        assert after[thread] == before[thread][:2]  # same ids, values (logs included), writes
    oldest_kept = after["chat-bob"][-1][0]
    shown = run("show", "chat-bob", oldest_kept, "--json", url=sqlite_copy).json
    assert shown["values"]["count"] == 2 and len(shown["values"]["messages"]) == 3
    # the interrupted thread still resumes from its kept checkpoints
    with sqlite_saver(_path(sqlite_copy)) as saver:
        final = _graph.resume(_graph.build(saver), "chat-carol")
    assert final["count"] == 3 and [m["id"] for m in final["messages"]][-2:] == ["human-1", "done-2"]


def test_prune_older_than_keeps_recent_checkpoints_and_each_latest(sqlite_copy: str) -> None:
    recent = run("prune", "--older-than", "1", "--json", url=sqlite_copy).json
    assert recent["deleted"] == 0  # everything is younger than a day
    one = run("prune", "--older-than", "0", "--thread", "chat-bob", "--thread", "chat-carol", "--json", url=sqlite_copy).json
    assert one["deleted"] == 4 + 2 and {p["keep_last"] for p in one["threads"]} == {1}
    assert _counts(sqlite_copy) == {"chat-bob": 1, "chat-carol": 1, "chat-alice-1": 5, "chat-alice-2": 3}
    assert run("show", "chat-bob", "--json", url=sqlite_copy).json["values"]["count"] == 3


def test_prune_argument_errors(sqlite_copy: str) -> None:
    assert "exactly one of --keep-last N or --older-than DAYS" in fail("prune", url=sqlite_copy)
    assert "exactly one of" in fail("prune", "--keep-last", "1", "--older-than", "3", url=sqlite_copy)
    assert "thread 'nope' not found" in fail("prune", "--keep-last", "1", "--thread", "nope", url=sqlite_copy)
    assert run("prune", "--keep-last", "0", url=sqlite_copy, ok=False).code == 2  # a usage error


def _rows(url: str, thread: str) -> int:
    with sqlite3.connect(_path(url)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'waypoint_%'")]
        return sum(
            conn.execute(f"SELECT count(*) FROM {t} WHERE thread_id = ?", (thread,)).fetchone()[0]  # noqa: S608 (our table names)
            for t in tables if t != "waypoint_checkpoint_migrations"
        )


def test_delete_by_thread_and_by_metadata_erases_everything(sqlite_copy: str) -> None:
    assert _rows(sqlite_copy, "chat-bob") > 0
    assert "refusing to delete 1 thread(s) without confirmation" in fail("delete", "--thread", "chat-bob", url=sqlite_copy)
    out = run("delete", "--thread", "chat-bob", "--yes", url=sqlite_copy).out
    assert "deleted 1 thread(s), 5 checkpoint(s): chat-bob" in out
    assert _rows(sqlite_copy, "chat-bob") == 0
    assert "thread 'chat-bob' not found" in fail("show", "chat-bob", url=sqlite_copy)

    dry = run("delete", "--metadata", "user=alice", "--dry-run", "--json", url=sqlite_copy).json
    assert dry["dry_run"] and [p["thread_id"] for p in dry["threads"]] == ["chat-alice-1", "chat-alice-2"]
    assert dry["checkpoints"] == 8
    run("delete", "--metadata", "user=alice", "-y", url=sqlite_copy)
    assert _counts(sqlite_copy) == {"chat-carol": 3}
    assert _rows(sqlite_copy, "chat-alice-1") == 0 and _rows(sqlite_copy, "chat-alice-2") == 0
    assert "deleted 0 thread(s)" in run("delete", "--metadata", "user=mallory", "-y", url=sqlite_copy).out
    assert "not both" in fail("delete", "--thread", "x", "--metadata", "a=b", url=sqlite_copy)


def test_delete_in_postgres(pg_url: str) -> None:
    from waypoint.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(pg_url) as saver:
        _graph.populate(saver, {"a": {"user": "x"}, "b": {"user": "y"}}, {"a"})
    run("delete", "--metadata", "user=x", "--yes", url=pg_url)
    assert _counts(pg_url) == {"b": 3}
    assert run("prune", "--keep-last", "1", "--json", url=pg_url).json["deleted"] == 2
    assert _counts(pg_url) == {"b": 1}
