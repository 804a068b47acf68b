"""export / import between backends, resuming imported threads, refusing damaged files."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.cli import _graph
from tests.cli.conftest import fail, run, sqlite_saver

EXPORTED = ["chat-carol", "chat-alice-2", "chat-bob"]  # two waiting at the interrupt, one finished


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _rewrite(path: Path, objs: list[dict[str, Any]]) -> None:
    """Write records with a freshly computed checksum (a well-formed file with bad content)."""
    body = "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in objs[:-1])
    path.write_text(body + json.dumps({"sha256": hashlib.sha256(body.encode()).hexdigest()}) + "\n")


def _show(url: str, thread: str) -> dict[str, Any]:
    """What ``show`` reports of a thread's latest checkpoint."""
    data = run("show", thread, "--json", url=url).json
    return {k: data[k] for k in ("checkpoint_id", "values", "next", "tasks", "interrupts", "pending_writes", "metadata")}


def _states(url: str, thread: str) -> list[tuple[Any, ...]]:
    """The thread's history as the graph API reads it (get_state_history, newest first)."""
    with _open(url) as saver:
        graph = _graph.build(saver)
        return [
            (s.config["configurable"]["checkpoint_id"], s.values, s.next, s.metadata, s.created_at,
             (s.parent_config or {}).get("configurable", {}).get("checkpoint_id"),
             [(t.name, t.interrupts) for t in s.tasks], s.interrupts)
            for s in graph.get_state_history(_graph.config(thread))
        ]


def _open(url: str) -> Any:
    if url.startswith("sqlite"):
        return sqlite_saver(Path(url.removeprefix("sqlite:///")))
    if url.startswith("postgresql"):
        from waypoint.checkpoint.postgres import PostgresSaver

        return PostgresSaver.from_conn_string(url)
    from waypoint.checkpoint.mongodb import MongoDBSaver

    return MongoDBSaver.from_conn_string(url, db_name=url.rsplit("/", 1)[1].split("?")[0])


def _resume(url: str, thread: str) -> tuple[dict[str, Any], list[Any]]:
    with _open(url) as saver:
        graph = _graph.build(saver)
        out = _graph.resume(graph, thread, "ship it")
        history = [(s.metadata["step"], s.next, s.values) for s in graph.get_state_history(_graph.config(thread))]
    return out, history


def test_sqlite_export_imports_into_postgres_and_mongodb_and_resumes_there(sqlite_copy: str, pg_url: str, mongo_url: str, tmp_path: Path) -> None:
    out = tmp_path / "threads.jsonl"
    summary = run("export", *EXPORTED, "--out", str(out), "--json", url=sqlite_copy).json
    assert summary["threads"] == 3 and out.exists() and not (tmp_path / "threads.jsonl.partial").exists()
    shown = _show(sqlite_copy, "chat-carol")
    assert shown["next"] == ["approve"] and shown["interrupts"]
    states = {t: _states(sqlite_copy, t) for t in EXPORTED}
    for target in (pg_url, mongo_url):
        done = run("import", str(out), "--json", url=target).json
        assert (done["threads"], done["checkpoints"]) == (3, 11) and done["writes"] > 0
        assert sorted(r["thread_id"] for r in run("threads", "--json", url=target).json["threads"]) == sorted(EXPORTED)
        assert _show(target, "chat-carol") == shown
        for thread in EXPORTED:  # same get_state values and history, checkpoint by checkpoint
            assert _states(target, thread) == states[thread], (target, thread)
    # the interrupted thread resumes in every backend and ends exactly as it does in SQLite
    expected = _resume(sqlite_copy, "chat-carol")
    last = expected[0]["messages"][-1]  # a dict, or a LangChain message when langchain-core is installed
    assert expected[0]["count"] == 3 and (last["content"] if isinstance(last, dict) else last.content) == "published"
    assert _resume(pg_url, "chat-carol") == expected
    assert _resume(mongo_url, "chat-carol") == expected


def test_export_format_header_records_checksum_and_redacted_source(pg_db: str, tmp_path: Path) -> None:
    out = tmp_path / "bob.jsonl"
    with_password = pg_db.replace("postgres@", "postgres:s3cret@", 1)
    run("export", "chat-bob", "-o", str(out), url=with_password)
    text = out.read_text()
    assert "s3cret" not in text
    objs = _lines(out)
    head, tail = objs[0], objs[-1]
    assert head["format"] == "waypoint-export" and head["version"] == 1 and head["kind"] == "checkpoints"
    assert head["source"] == pg_db and head["created_at"]
    body = "".join(line + "\n" for line in text.splitlines()[:-1])
    assert tail == {"sha256": hashlib.sha256(body.encode()).hexdigest()}
    types = [o["type"] for o in objs[1:-1]]
    assert types[0] == "thread" and types.count("checkpoint") == 5
    checkpoints = [o for o in objs if o.get("type") == "checkpoint"]
    assert [c["id"] for c in checkpoints] == sorted(c["id"] for c in checkpoints)  # oldest first
    assert checkpoints[0]["parent_id"] is None
    # list values are exported incrementally: later message blobs carry only the new items
    msgs = [o for o in objs if o.get("type") == "blob" and o["channel"] == "messages"]
    assert "base" not in msgs[0] and all(m["base"]["prefix"] >= 1 for m in msgs[1:])
    writes = [o for o in objs if o.get("type") == "writes"]
    assert all({"task_id", "checkpoint_id", "writes"} <= set(w) for w in writes)
    assert all({"channel", "tag", "data"} <= set(x) for w in writes for x in w["writes"])


def test_imported_message_history_stays_an_incremental_log(sqlite_db: str, tmp_path: Path) -> None:
    out, target = tmp_path / "t.jsonl", tmp_path / "target.db"
    run("export", "chat-alice-1", "-o", str(out), url=sqlite_db)
    run("import", str(out), url=f"sqlite:///{target}")
    with sqlite3.connect(target) as conn:
        kinds = conn.execute("SELECT DISTINCT type FROM waypoint_blobs WHERE channel = 'messages'").fetchall()
        refs = conn.execute("SELECT count(*) FROM waypoint_checkpoints WHERE json_extract(logs, '$.messages') IS NOT NULL").fetchone()[0]
        lineages = conn.execute("SELECT count(*) FROM waypoint_lineages").fetchone()[0]
    assert kinds == [] and refs >= 4 and lineages == 1  # four appends, one lineage, no blob rows


def test_tampered_truncated_or_foreign_files_are_refused_and_nothing_is_imported(sqlite_db: str, tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    run("export", "chat-bob", "chat-carol", "-o", str(good), url=sqlite_db)
    target = f"sqlite:///{tmp_path / 'target.db'}"
    lines = good.read_text().splitlines(keepends=True)

    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("".join(lines).replace('"thread_id":"chat-bob"', '"thread_id":"chat-eve"'))
    assert "failed its SHA-256 check" in fail("import", str(tampered), url=target)

    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("".join(lines[:-3]))
    assert "no checksum line" in fail("import", str(truncated), url=target)

    future = tmp_path / "future.jsonl"
    objs = _lines(good)
    objs[0]["version"] = 2
    _rewrite(future, objs)
    assert "version 2 is not supported" in fail("import", str(future), url=target)

    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"hello": "world"}\n')
    assert "not a waypoint export" in fail("import", str(foreign), url=target)
    assert "cannot read" in fail("import", str(tmp_path / "missing.jsonl"), url=target)

    assert not (tmp_path / "target.db").exists()  # the file is checked before the database is opened
    assert run("import", str(good), "--json", url=target).json["threads"] == 2


def test_import_refuses_existing_threads_unless_forced(sqlite_db: str, tmp_path: Path) -> None:
    out = tmp_path / "bob.jsonl"
    run("export", "chat-bob", "-o", str(out), url=sqlite_db)
    target = f"sqlite:///{tmp_path / 'target.db'}"
    run("import", str(out), url=target)
    assert "thread 'chat-bob' already exists in the target: pass --force" in fail("import", str(out), url=target)
    assert run("import", str(out), "--force", "--json", url=target).json["checkpoints"] == 5
    assert run("threads", "--json", url=target).json["threads"][0]["checkpoints"] == 5


def test_a_thread_that_fails_midway_is_rolled_back(sqlite_db: str, tmp_path: Path) -> None:
    out = tmp_path / "two.jsonl"
    run("export", "chat-bob", "chat-carol", "-o", str(out), url=sqlite_db)
    objs = _lines(out)
    # break the last message blob of the second thread (chat-carol): its base version is unknown
    last_blob = max(i for i, o in enumerate(objs) if o.get("type") == "blob" and o["channel"] == "messages")
    objs[last_blob]["base"]["version"] = "0000000099.deadbeef"
    _rewrite(out, objs)
    target = f"sqlite:///{tmp_path / 'target.db'}"
    line = fail("import", str(out), url=target)
    assert "thread 'chat-carol' failed and was rolled back (1 thread(s) completed before it)" in line
    threads = run("threads", "--json", url=target).json["threads"]
    assert [t["thread_id"] for t in threads] == ["chat-bob"]  # nothing of chat-carol is left
