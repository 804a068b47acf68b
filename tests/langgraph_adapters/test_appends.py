"""The storage win under LangGraph's runtime: list channels that grow by appending are kept
in waypoint's item log, and every other change still reads back exactly."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage
from langgraph.checkpoint.memory import InMemorySaver as LgMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver as LgSqliteSaver

import waypoint.langgraph as wl
from tests.langgraph_adapters._graphs import chat_graph
from waypoint.langgraph._appends import AppendTracker, common_prefix


def _history(graph: Any, cfg: dict) -> list[tuple[int, list[tuple[str, str]]]]:
    return [
        (s.metadata["step"], [(type(m).__name__, m.content) for m in s.values.get("messages", [])])
        for s in graph.get_state_history(cfg)
    ]


def _db_bytes(path: Path, tables: list[str]) -> int:
    with sqlite3.connect(path) as conn:
        total = 0
        for table in tables:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            expr = " + ".join(f"coalesce(length({c}), 0)" for c in cols)
            total += conn.execute(f"SELECT coalesce(sum({expr}), 0) FROM {table}").fetchone()[0]
        return total


def test_common_prefix_by_identity_then_equality() -> None:
    a, b = HumanMessage(content="x", id="1"), AIMessage(content="y", id="2")
    assert common_prefix([a, b], [a, b, HumanMessage(content="z")]) == 2
    assert common_prefix([a, b], [HumanMessage(content="x", id="1"), b]) == 2  # equal, not same
    assert common_prefix([a, b], [a, AIMessage(content="changed", id="2")]) == 1
    assert common_prefix([a, b], [b, a]) == 0


def test_tracker_hints_only_lists_and_only_shared_prefixes() -> None:
    t = AppendTracker()
    items = [1, 2, 3]
    assert t.hints("t", "", {"m": items, "s": "x"}, {"m": "v1", "s": "v1"}) == {"m": (None, 0)}
    t.remember("t", "", {"m": items}, {"m": "v1"})
    assert t.hints("t", "", {"m": [1, 2, 3, 4]}, {"m": "v2"}) == {"m": ("v1", 3)}
    assert t.hints("t", "", {"m": [9]}, {"m": "v2"}) == {"m": (None, 0)}
    assert t.hints("other", "", {"m": [1, 2, 3, 4]}, {"m": "v2"}) == {"m": (None, 0)}
    t.forget_thread("t")
    assert t.hints("t", "", {"m": [1, 2, 3, 4]}, {"m": "v2"}) == {"m": (None, 0)}


def test_appends_are_stored_once(tmp_path: Path) -> None:
    turns = 120
    cfg = {"configurable": {"thread_id": "chat"}}
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    with wl.SqliteSaver.from_conn_string(str(ours)) as saver:
        graph = chat_graph("langgraph", saver)
        for i in range(turns):
            graph.invoke({"messages": [HumanMessage(content=f"question {i} " + "x" * 200)]}, cfg)
        assert len(graph.get_state(cfg).values["messages"]) == 2 * turns
    with LgSqliteSaver.from_conn_string(str(theirs)) as saver:
        graph = chat_graph("langgraph", saver)
        for i in range(turns):
            graph.invoke({"messages": [HumanMessage(content=f"question {i} " + "x" * 200)]}, cfg)
    our_bytes = _db_bytes(ours, ["waypoint_checkpoints", "waypoint_blobs", "waypoint_lineages",
                                 "waypoint_writes", "waypoint_log_chunks"])
    their_bytes = _db_bytes(theirs, ["checkpoints", "writes"])
    # every message is stored once (one lineage), not once per later turn
    with sqlite3.connect(ours) as conn:
        lineages = conn.execute(
            "SELECT count(*) FROM waypoint_lineages WHERE thread_id = 'chat'").fetchone()[0]
    assert lineages == 1
    assert our_bytes * 10 < their_bytes, (our_bytes, their_bytes)


def test_every_other_change_reads_back_exactly() -> None:
    """Replace by id, removal, a fork from an old checkpoint: the adapter's history equals
    LangGraph's own saver's, checkpoint by checkpoint."""
    histories = []
    for saver in (LgMemorySaver(), wl.InMemorySaver()):
        graph = chat_graph("langgraph", saver)
        cfg = {"configurable": {"thread_id": "t"}}
        for i in range(4):
            graph.invoke({"messages": [HumanMessage(content=f"q{i}", id=f"h{i}")]}, cfg)
        # replace an early message by id, then remove one
        graph.update_state(cfg, {"messages": [HumanMessage(content="q1 edited", id="h1")]})
        graph.update_state(cfg, {"messages": [RemoveMessage(id="h2")]})
        graph.invoke({"messages": [HumanMessage(content="after edits", id="h9")]}, cfg)
        # fork from the checkpoint after the second turn and continue there
        past = [s for s in graph.get_state_history(cfg) if s.metadata["step"] == 4][0]
        graph.invoke({"messages": [HumanMessage(content="forked", id="hf")]}, past.config)
        histories.append(_history(graph, cfg))
    assert histories[0] == histories[1]
    latest = histories[1][0][1]
    assert latest[-2:] == [("HumanMessage", "forked"), ("AIMessage", "echo: forked")]
    assert [c for _, c in histories[1][3][1]][:3] == ["q0", "echo: q0", "q1 edited"]
