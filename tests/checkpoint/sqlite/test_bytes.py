"""Bytes near the payload: a MessagesState chat on SQLite stores about what its messages
weigh, not a copy per checkpoint, pending write and input.

The benchmark's chat (``benchmarks/bench_growth.py``: ~200-character messages with fixed ids)
is grown on a fresh file; the file's size after ``VACUUM`` (net of the empty schema) is
compared with the messages serialized one by one. Row format 1 stored 6.8x at 300 turns
(every message again in a pending write, every input again in a ``__start__`` blob, one blob
row per changed channel); row format 2 stores under 4.5x (4.27x since schema 7 gave pending
writes a key index), the rest being three checkpoint rows per turn (ids, parent ids, metadata,
versions). No timing is measured.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("langchain_core")

from benchmarks.bench_growth import _corpus, build  # noqa: E402
from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer  # noqa: E402
from waypoint.checkpoint.sqlite import SqliteSaver  # noqa: E402

TURNS = 150


def _size(path: Path) -> int:
    conn = sqlite3.connect(path)
    conn.execute("VACUUM")
    conn.close()
    return os.path.getsize(path)


def test_a_chat_stores_under_4_5x_its_messages_and_no_message_twice(tmp_path: Path) -> None:
    from langchain_core.messages import HumanMessage

    path = tmp_path / "chat.db"
    questions, replies = _corpus(TURNS)
    with SqliteSaver.from_conn_string(str(path)) as saver:
        saver.setup()
        empty = _size(path)
        app = build("waypoint", saver, replies)
        config = {"configurable": {"thread_id": "chat"}}
        for turn in range(TURNS):
            app.invoke({"messages": [HumanMessage(content=questions[turn], id=f"u{turn}")]}, config)
        messages = app.get_state(config).values["messages"]
        history = list(saver.list(config))
    assert len(messages) == 2 * TURNS
    serde = JsonPlusSerializer()
    payload = sum(len(serde.dumps_typed(m)[1]) for m in messages)
    stored = _size(path) - empty
    assert stored <= 4.5 * payload, (stored, payload, stored / payload)

    conn = sqlite3.connect(path)
    # every message once, in the log: writes and inputs only refer to it
    logged = conn.execute("SELECT sum(length(items)) FROM waypoint_log_chunks").fetchone()[0]
    repeated = conn.execute(
        "SELECT coalesce(sum(length(blob)), 0) FROM waypoint_writes WHERE type <> 'logref'"
    ).fetchone()[0] + conn.execute(
        "SELECT coalesce(sum(length(blob)), 0) FROM waypoint_blobs WHERE type <> 'logref'"
    ).fetchone()[0]
    conn.close()
    assert logged <= 1.05 * payload and repeated <= 0.02 * payload, (logged, repeated, payload)

    # and every checkpoint still reads back whole, its pending writes and input included
    assert len(history) == 3 * TURNS
    inputs = writes = 0
    for t in history:
        for _, channel, value in t.pending_writes:
            if channel == "messages":
                (msg,) = value
                turn = int(msg.id[1:])
                assert msg.content == (questions if msg.id[0] == "u" else replies)[turn]
                writes += 1
        start = t.checkpoint["channel_values"].get("__start__")
        if start is not None:
            (msg,) = start["messages"]
            assert msg.content == questions[int(msg.id[1:])]
            inputs += 1
    assert writes == 2 * TURNS and inputs == TURNS
