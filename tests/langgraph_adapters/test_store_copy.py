"""``waypoint.store.langgraph_db`` on a store LangGraph's own ``SqliteStore`` wrote (no vector
index: plain ``sqlite3``): timestamps, TTL expiry after a refresh, expired items, field names."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from waypoint.store.langgraph_db import LangGraphSqliteStoreReader, StoreCopyError, VectorReplay, copy_store, waypoint_field


def test_field_names_map_to_waypoint_paths() -> None:
    assert waypoint_field("text") == ("text", 0)
    assert waypoint_field("tags[*].1") == ("tags[*]", 1)
    assert waypoint_field("a.b") == ("a.b", 0)
    assert waypoint_field("$") == ("$", 0)


def test_timestamps_ttl_and_expired_items_copy(tmp_path: Path) -> None:
    from langgraph.store.sqlite import SqliteStore as LangGraphSqliteStore

    from waypoint.store.sqlite import SqliteStore

    src = tmp_path / "lg.db"
    with LangGraphSqliteStore.from_conn_string(str(src)) as lg:
        lg.setup()
        lg.put(("a", "b"), "old", {"n": 1})
        lg.put(("a",), "ttl", {"n": 2}, ttl=60)
        lg.put(("a",), "gone", {"n": 3}, ttl=60)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    created, updated, expires = now - timedelta(days=3), now - timedelta(days=1), now + timedelta(minutes=45)
    with sqlite3.connect(src) as conn:  # as a week of LangGraph use leaves them
        fmt = "%Y-%m-%d %H:%M:%S"
        conn.execute("UPDATE store SET created_at = ?, updated_at = ?", (created.strftime(fmt), updated.strftime(fmt)))
        conn.execute("UPDATE store SET expires_at = ? WHERE key = 'ttl'", (expires.isoformat(),))  # refreshed by a read
        conn.execute("UPDATE store SET expires_at = ? WHERE key = 'gone'", ((now - timedelta(minutes=1)).isoformat(),))
    reader = LangGraphSqliteStoreReader(str(src))
    try:
        assert reader.counts() == (3, 0) and reader.dims() is None
        with SqliteStore.from_conn_string(str(tmp_path / "wp.db")) as store:
            with pytest.raises(ValueError, match="replay_index"):
                copy_store(reader, store)  # vectors="copy" needs the replay index
            assert copy_store(reader, store, vectors="skip") == {"items": 2, "vectors": 0, "expired": 1, "verified": 2}
            old = store.get(("a", "b"), "old", refresh_ttl=False)
            assert old is not None and (old.created_at, old.updated_at) == (created, updated)
            assert store.get(("a",), "gone") is None
    finally:
        reader.close()
    with sqlite3.connect(tmp_path / "wp.db") as conn:  # LangGraph's expiry, not updated_at + ttl
        [(stamp,)] = conn.execute("SELECT expires_at FROM waypoint_store WHERE key = 'ttl'").fetchall()
    assert abs(datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=stamp) - expires) < timedelta(milliseconds=1)


def test_vector_replay_refuses_a_text_it_was_not_given() -> None:
    replay = VectorReplay()
    with pytest.raises(StoreCopyError, match="no copied vector"):
        replay(["never registered"])
