"""SQLite-specific behaviour of SqliteSaver / AsyncSqliteSaver (files, processes, bytes)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.checkpoint import _workload
from waypoint.checkpoint.base import LogHint, empty_checkpoint
from waypoint.checkpoint.sqlite import SqliteSaver
from waypoint.checkpoint.sqlite.aio import AsyncSqliteSaver
from waypoint.errors import CorruptCheckpointError, SetupError, SyncOnEventLoopError


def cfg(thread: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ""}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def put_step(saver: Any, config: dict[str, Any], values: dict[str, Any], versions: dict[str, str], logs: dict[str, LogHint] | None = None, md: dict[str, Any] | None = None) -> dict[str, Any]:
    cp = empty_checkpoint()
    new = {}
    for ch in values:
        versions[ch] = new[ch] = saver.get_next_version(versions.get(ch))
    cp["channel_values"] = dict(values)
    cp["channel_versions"] = dict(versions)
    if logs:
        cp["channel_logs"] = logs
    return saver.put(config, cp, {"source": "loop", "step": 0, "parents": {}, **(md or {})}, new)


def test_corrupt_blob_names_thread_checkpoint_and_channel(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with SqliteSaver.from_conn_string(path) as saver:
        conf = put_step(saver, cfg("t-corrupt"), {"good": "g" * 300, "bad": {"a": "b" * 300}, "log": ["a", "b"]}, {}, logs={"log": LogHint(None, 0)})
    other = sqlite3.connect(path)
    other.execute("UPDATE waypoint_blobs SET blob = X'C1FFEE00' WHERE channel = 'bad'")
    other.commit()
    other.close()
    with SqliteSaver.from_conn_string(path) as saver:
        with pytest.raises(CorruptCheckpointError) as err:
            saver.get_tuple(cfg("t-corrupt"))
        e = err.value
        assert (e.thread_id, e.checkpoint_id, e.channel) == ("t-corrupt", conf["configurable"]["checkpoint_id"], "bad")
        assert "t-corrupt" in str(e) and "bad" in str(e)
        with pytest.raises(CorruptCheckpointError):
            list(saver.list(cfg("t-corrupt")))
    other = sqlite3.connect(path)
    other.execute(
        "UPDATE waypoint_blobs SET (type, blob) = (SELECT type, blob FROM waypoint_blobs"
        " WHERE channel = 'good') WHERE channel = 'bad'"
    )
    other.execute("UPDATE waypoint_log_chunks SET items = X'C1'")
    other.commit()
    with SqliteSaver.from_conn_string(path) as saver:
        with pytest.raises(CorruptCheckpointError, match="cannot rebuild log") as err:
            saver.get_tuple(cfg("t-corrupt"))
        assert err.value.channel == "log" and err.value.thread_id == "t-corrupt"
        other.execute("DELETE FROM waypoint_log_chunks")
        other.commit()
        with pytest.raises(CorruptCheckpointError, match="holds 0 items, 2 needed") as err:
            saver.get_tuple(cfg("t-corrupt"))
        assert err.value.channel == "log"
        other.execute("DELETE FROM waypoint_blobs WHERE channel = 'bad'")
        other.commit()
        with pytest.raises(CorruptCheckpointError, match="missing") as err:
            saver.get_tuple(cfg("t-corrupt"))
        assert err.value.channel == "bad"
    other.close()


def test_setup_is_idempotent_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    saver = SqliteSaver(path)
    saver.setup()
    saver.setup()
    known = len(saver.dialect.migrations)
    assert saver.conn.execute("SELECT v FROM waypoint_checkpoint_migrations ORDER BY v").fetchall() == [(v,) for v in range(1, known + 1)]
    tables = {r[0] for r in saver.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"waypoint_checkpoints", "waypoint_blobs", "waypoint_writes", "waypoint_lineages", "waypoint_log_chunks"} <= tables
    assert saver.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert saver.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    saver.conn.execute("INSERT INTO waypoint_checkpoint_migrations VALUES (99)")
    saver.close()
    with pytest.raises(SetupError, match="version 99"):
        SqliteSaver(path).setup()


def test_setup_happens_on_first_use(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(tmp_path / "auto.db") as saver:
        assert saver.get_tuple(cfg("none")) is None
        put_step(saver, cfg("t"), {"a": 1}, {})
        assert saver.get_tuple(cfg("t")).checkpoint["channel_values"] == {"a": 1}


def test_from_open_connection_and_memory(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "open.db", check_same_thread=False)
    saver = SqliteSaver(conn)
    put_step(saver, cfg("t"), {"a": 1}, {})
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(saver.get_tuple(cfg("t"))))
    worker.start()
    worker.join()
    assert done[0].checkpoint["channel_values"] == {"a": 1}
    assert not conn.in_transaction
    conn.close()
    with SqliteSaver.from_conn_string(":memory:") as mem:
        put_step(mem, cfg("m"), {"x": [1, 2]}, {})
        assert mem.get_tuple(cfg("m")).checkpoint["channel_values"] == {"x": [1, 2]}


def test_misused_connections_get_clear_errors(tmp_path: Path) -> None:
    strict = sqlite3.connect(tmp_path / "strict.db")  # check_same_thread=True
    saver = SqliteSaver(strict)
    saver.setup()
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            saver.get_tuple(cfg("t"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert isinstance(errors[0], SetupError) and "check_same_thread=False" in str(errors[0])
    strict.execute("INSERT INTO waypoint_checkpoint_migrations VALUES (50)")  # opens a transaction
    assert strict.in_transaction
    with pytest.raises(SetupError, match="open transaction"):
        put_step(saver, cfg("t"), {"a": 1}, {})
    strict.rollback()
    strict.close()


def test_failed_put_leaves_nothing_behind(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(tmp_path / "atomic.db") as saver:
        versions: dict[str, str] = {}
        conf = put_step(saver, cfg("t"), {"log": ["a"]}, versions, logs={"log": LogHint(None, 0)})
        before = {t: saver.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("waypoint_checkpoints", "waypoint_blobs", "waypoint_log_chunks", "waypoint_lineages")}
        base = versions["log"]
        with pytest.raises(Exception):
            put_step(saver, conf, {"log": ["a", threading.Lock()], "other": 1}, versions, logs={"log": LogHint(base, 1)})
        after = {t: saver.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in before}
        assert after == before
        assert saver.conn.execute("SELECT length FROM waypoint_lineages").fetchall() == [(1,)]
        assert saver.get_tuple(cfg("t")).checkpoint["channel_values"] == {"log": ["a"]}


def test_metadata_round_trips_exactly_and_filters_safely(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(tmp_path / "md.db") as saver:
        odd_key = "it's a \"key\"'); DROP TABLE waypoint_checkpoints; --"
        md = {"pair": (1, 2), "nul": "a\x00b", odd_key: "v", "nested": {"k": [1, "x"]}, "big": 10**30, "f": 1e300}
        put_step(saver, cfg("t"), {"a": 1}, {}, md=md)
        put_step(saver, cfg("t2"), {"a": 2}, {}, md={"nested": {"k": [1, "x"], "extra": 1}, odd_key: "w"})
        got = saver.get_tuple(cfg("t")).metadata
        for key, value in md.items():
            assert got[key] == value and type(got[key]) is type(value)
        assert [x.config["configurable"]["thread_id"] for x in saver.list(None, filter={odd_key: "v"})] == ["t"]
        assert [x.config["configurable"]["thread_id"] for x in saver.list(None, filter={"nested": {"k": [1, "x"]}})] == ["t"]
        assert list(saver.list(None, filter={"nested": "{\"k\":[1,\"x\"]}"})) == []
        assert [x.config["configurable"]["thread_id"] for x in saver.list(None, filter={"big": 10**30})] == ["t"]
        assert saver.conn.execute("SELECT count(*) FROM waypoint_checkpoints").fetchone()[0] == 2


def test_listing_streams_page_by_page(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(tmp_path / "stream.db") as saver:
        conf, versions = cfg("t"), {}
        for i in range(130):
            conf = put_step(saver, conf, {"i": i}, versions)
        it = saver.list(cfg("t"))
        assert next(it).checkpoint["channel_values"]["i"] == 129
        put_step(saver, cfg("u"), {"i": -1}, {})  # writing while a listing is open is fine
        assert [x.checkpoint["channel_values"]["i"] for x in it][-1] == 0
        assert len(list(saver.list(cfg("t"), limit=77))) == 77


async def test_async_saver_sync_face_refuses_on_loop_thread(tmp_path: Path) -> None:
    async with AsyncSqliteSaver.from_conn_string(tmp_path / "a.db") as saver:
        with pytest.raises(SyncOnEventLoopError, match="await aget_tuple"):
            saver.get_tuple(cfg("t"))
        with pytest.raises(SyncOnEventLoopError):
            put_step(saver, cfg("t"), {"a": 1}, {})
        conf = await asyncio.to_thread(put_step, saver, cfg("t"), {"a": 1}, {})
        assert (await saver.aget_tuple(conf)).checkpoint["channel_values"] == {"a": 1}
        items = [x async for x in saver.alist(None)]
        assert len(items) == 1


@pytest.mark.slow
def test_several_processes_write_one_file(tmp_path: Path) -> None:
    """4 processes x 50 threads x 5 checkpoints (each with a log channel) on one file."""
    path = str(tmp_path / "shared.db")
    SqliteSaver(path).setup()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        start_at = time.time() + 2.0  # every worker imported and connected by then
        began = time.perf_counter()
        counts = pool.starmap(_workload.write_threads, [("sqlite", path, f"p{i}", 50, 5, start_at) for i in range(4)])
        elapsed = time.perf_counter() - began - 2.0
    assert counts == [250] * 4
    with SqliteSaver.from_conn_string(path) as saver:
        checked = sum(_workload.verify_threads(saver, f"p{i}", 50, 5) for i in range(4))
        assert checked == 1000
        assert saver.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    print(f"sqlite: 4 processes x 250 checkpoints at once: {elapsed:.2f}s")


def test_bytes_on_disk_stay_linear_in_the_conversation(tmp_path: Path) -> None:
    """1,000 steps, two ~200-byte messages per step: the file stays near the payload."""
    path = tmp_path / "chat.db"
    saver = SqliteSaver(path)
    serde = saver.serde
    conf, versions = cfg("chat"), {}
    messages: list[dict[str, Any]] = []
    items_bytes = record_bytes = 0
    rng = os.urandom
    for step in range(1000):
        prev, base = len(messages), versions.get("messages")
        new = [
            {"role": role, "content": rng(80).hex() + f" #{step}", "id": f"m-{step}-{role}"}
            for role in ("user", "assistant")
        ]
        items_bytes += sum(len(serde.dumps_typed(m)[1]) for m in new)
        messages = messages + new
        conf = put_step(saver, conf, {"messages": messages}, versions, logs={"messages": LogHint(base, prev)}, md={"step": step})
        row = saver.conn.execute(
            "SELECT length(checkpoint_id) + length(parent_checkpoint_id) + length(checkpoint)"
            " + length(channel_versions) + length(metadata) FROM waypoint_checkpoints"
            " WHERE checkpoint_id = ?",
            (conf["configurable"]["checkpoint_id"],),
        ).fetchone()
        record_bytes += row[0] or 0
    saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = os.path.getsize(path)
    assert saver.get_tuple(cfg("chat")).checkpoint["channel_values"]["messages"] == messages
    saver.close()
    print(f"items {items_bytes} B, checkpoint records {record_bytes} B, file {size} B, "
          f"file/items {size / items_bytes:.2f}, file/(items+records) {size / (items_bytes + record_bytes):.2f}")
    assert size < 1.5 * (items_bytes + record_bytes)
    assert size < 2.5 * items_bytes  # linear: the whole-list-per-step layout would be ~500x


def test_large_values_read_by_their_own_lookup_come_back_exact(tmp_path: Path) -> None:
    """A blob over the tuples query's LARGE limit is flagged there and read by its key."""
    from waypoint.checkpoint._sql.sqlite_sql import LARGE

    big, small = os.urandom(LARGE + 1), "s" * 300
    with SqliteSaver.from_conn_string(tmp_path / "big.db") as saver:
        conf = put_step(saver, cfg("t-big"), {"big": big, "small": small, "n": 3}, {})
        got = saver.get_tuple(cfg("t-big"))
        assert got.checkpoint["channel_values"] == {"big": big, "small": small, "n": 3}
        (listed,) = list(saver.list(cfg("t-big")))
        assert listed.checkpoint["channel_values"]["big"] == big
        assert got.config == conf
        row = saver.conn.execute("SELECT type FROM sqlite_master WHERE name = 'waypoint_blobs'").fetchone()
        assert "WITHOUT ROWID" not in saver.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'waypoint_blobs'").fetchone()[0] and row
