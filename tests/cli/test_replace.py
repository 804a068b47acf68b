"""import --force replaces a thread atomically: a failing import leaves the original intact."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli import _graph
from tests.cli.conftest import fail, run
from tests.cli.test_transfer import _lines, _open, _rewrite, _states


def _corrupt_file(sqlite_db: str, tmp_path: Path) -> tuple[Path, Path]:
    """(good, bad): chat-alice-1 then chat-bob; in ``bad`` chat-bob's last blob is garbage
    (its earlier checkpoints import fine before the import reaches it)."""
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    run("export", "chat-alice-1", "chat-bob", "-o", str(good), url=sqlite_db)
    objs = _lines(good)
    start = next(i for i, o in enumerate(objs) if o.get("thread_id") == "chat-bob")
    last = max(i for i, o in enumerate(objs) if o.get("type") == "blob" and i > start)
    objs[last]["data"] = base64.b64encode(b"\xc1\xc1 not msgpack").decode()
    _rewrite(bad, objs)
    return good, bad


def _target(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'target.db'}"
    return request.getfixturevalue("pg_url" if kind == "postgres" else "mongo_url")


def _thread_rows(url: str) -> dict[str, int]:
    return {r["thread_id"]: r["checkpoints"] for r in run("threads", "--json", url=url).json["threads"]}


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mongodb"])
def test_failed_force_import_keeps_the_original_thread(kind: str, sqlite_db: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    target = _target(kind, tmp_path, request)
    with _open(target) as saver:  # the target's own chat-bob: different text, waiting at the interrupt
        graph = _graph.build(saver)
        _graph.start(graph, "chat-bob", "the original", user="original")
    before = _states(target, "chat-bob")
    assert len(before) == 3
    good, bad = _corrupt_file(sqlite_db, tmp_path)

    line = fail("import", str(bad), "--force", url=target)
    assert "thread 'chat-bob' failed" in line and "existing thread is unchanged" in line, line
    assert _states(target, "chat-bob") == before  # every checkpoint, same values
    assert _thread_rows(target) == {"chat-alice-1": 5, "chat-bob": 3}  # no temporary thread left

    done = run("import", str(good), "--force", "--json", url=target).json
    assert (done["threads"], done["checkpoints"]) == (2, 10)
    assert _states(target, "chat-bob") == _states(sqlite_db, "chat-bob")  # exactly the new thread
    assert _thread_rows(target) == {"chat-alice-1": 5, "chat-bob": 5}


def test_failed_force_import_keeps_the_original_thread_in_memory(sqlite_db: str, tmp_path: Path) -> None:
    from waypoint.checkpoint.memory import InMemorySaver
    from waypoint.cli import _transfer
    from waypoint.cli._urls import CliError, make_serde

    saver = InMemorySaver()
    graph = _graph.build(saver)
    _graph.start(graph, "chat-bob", "the original")
    before = list(graph.get_state_history(_graph.config("chat-bob")))
    good, bad = _corrupt_file(sqlite_db, tmp_path)
    with pytest.raises(CliError, match="existing thread is unchanged"):
        _transfer.import_file(saver, bad, make_serde(), force=True)
    assert list(graph.get_state_history(_graph.config("chat-bob"))) == before
    assert sorted({t.config["configurable"]["thread_id"] for t in saver.list(None)}) == ["chat-alice-1", "chat-bob"]

    assert _transfer.import_file(saver, good, make_serde(), force=True)["checkpoints"] == 10
    after = list(graph.get_state_history(_graph.config("chat-bob")))
    first = after[0].values["messages"][0]
    assert len(after) == 5 and (first["content"] if isinstance(first, dict) else first.content) == "hello from chat-bob"
    assert sorted({t.config["configurable"]["thread_id"] for t in saver.list(None)}) == ["chat-alice-1", "chat-bob"]
