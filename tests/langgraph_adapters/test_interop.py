"""One database, two runtimes: LangGraph programs through ``waypoint.langgraph`` and waypoint
programs through waypoint's own classes read and continue each other's threads."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver as LgBaseSaver
from langgraph.checkpoint.base import CheckpointTuple as LgTuple
from langgraph.store.base import BaseStore as LgBaseStore
from langgraph.store.base import Item as LgItem
from langgraph.store.base import SearchItem as LgSearchItem
from langgraph.types import Command as LgCommand
from langgraph.types import Interrupt as LgInterrupt

import waypoint.langgraph as wl
from tests.backends._mongo_server import mongo_uri, new_db_name
from tests.backends._pgvector_server import pgvector_url
from tests.backends._postgres import fresh_database
from tests.langgraph_adapters._graphs import INDEX, chat_graph, fan_graph
from waypoint.types import Command as WpCommand


@contextmanager
def backend(kind: str, tmp_path: Path) -> Iterator[tuple[Any, Any, Any, Any]]:
    """(adapter saver, waypoint saver, adapter store, waypoint store) on one database."""
    with ExitStack() as stack:
        if kind == "sqlite":
            from waypoint.checkpoint.sqlite import SqliteSaver
            from waypoint.store.sqlite import SqliteStore

            path = str(tmp_path / "shared.db")
            lg = stack.enter_context(wl.SqliteSaver.from_conn_string(path))
            wp = stack.enter_context(SqliteSaver.from_conn_string(path))
            lgs = stack.enter_context(wl.SqliteStore.from_conn_string(path, index=INDEX))
            wps = stack.enter_context(SqliteStore.from_conn_string(path, index=INDEX))
        elif kind == "postgres":
            from waypoint.checkpoint.postgres import PostgresSaver
            from waypoint.store.postgres import PostgresStore

            url = stack.enter_context(fresh_database(pgvector_url(), "wp_lg"))
            lg = stack.enter_context(wl.PostgresSaver.from_conn_string(url))
            wp = stack.enter_context(PostgresSaver.from_conn_string(url))
            lgs = stack.enter_context(wl.PostgresStore.from_conn_string(url, index=INDEX))
            wps = stack.enter_context(PostgresStore.from_conn_string(url, index=INDEX))
        else:
            from waypoint.checkpoint.mongodb import MongoDBSaver
            from waypoint.store.mongodb import MongoDBStore

            uri, name = mongo_uri(), new_db_name("wp_lg")
            lg = stack.enter_context(wl.MongoDBSaver.from_conn_string(uri, name))
            wp = stack.enter_context(MongoDBSaver.from_conn_string(uri, name))
            lgs = stack.enter_context(wl.MongoDBStore.from_conn_string(uri, name, index=INDEX))
            wps = stack.enter_context(MongoDBStore.from_conn_string(uri, name, index=INDEX))
            stack.callback(lg.client.drop_database, name)
        for x in (lg, wp, lgs, wps):
            x.setup()
        yield lg, wp, lgs, wps


def test_every_adapter_is_a_langgraph_class() -> None:
    savers = ["InMemorySaver", "SqliteSaver", "AsyncSqliteSaver", "PostgresSaver",
              "AsyncPostgresSaver", "MongoDBSaver", "AsyncMongoDBSaver"]
    stores = ["InMemoryStore", "SqliteStore", "AsyncSqliteStore", "PostgresStore",
              "AsyncPostgresStore", "MongoDBStore", "AsyncMongoDBStore"]
    for name in savers:
        assert issubclass(getattr(wl, name), LgBaseSaver), name
    for name in stores:
        assert issubclass(getattr(wl, name), LgBaseStore), name
    # LangGraph's compile refuses anything but its own BaseCheckpointSaver
    from langgraph.graph import StateGraph
    from waypoint.checkpoint.memory import InMemorySaver as WpSaver

    with pytest.raises(TypeError):
        chat_graph("langgraph", WpSaver())
    assert isinstance(chat_graph("langgraph", wl.InMemorySaver()).checkpointer, LgBaseSaver)
    del StateGraph


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mongodb"])
def test_threads_cross_between_runtimes(kind: str, tmp_path: Path) -> None:
    with backend(kind, tmp_path) as (lg_saver, wp_saver, _, _):
        cfg = {"configurable": {"thread_id": "chat"}}
        lg_graph = chat_graph("langgraph", lg_saver)
        wp_graph = chat_graph("waypoint", wp_saver)
        for i in range(3):
            lg_graph.invoke({"messages": [HumanMessage(content=f"lg {i}")]}, cfg)
        # waypoint reads LangGraph's thread, history included, and continues it
        assert [m.content for m in wp_graph.get_state(cfg).values["messages"]][-2:] == ["lg 2", "echo: lg 2"]
        lg_steps = [s.metadata["step"] for s in lg_graph.get_state_history(cfg)]
        assert [s.metadata["step"] for s in wp_graph.get_state_history(cfg)] == lg_steps
        out = wp_graph.invoke({"messages": [HumanMessage(content="wp 3")]}, cfg)
        assert len(out["messages"]) == 8
        # LangGraph sees waypoint's turn as the latest, then continues after it
        state = lg_graph.get_state(cfg)
        assert [m.content for m in state.values["messages"]][-2:] == ["wp 3", "echo: wp 3"]
        out = lg_graph.invoke({"messages": [HumanMessage(content="lg 4")]}, cfg)
        assert [m.content for m in out["messages"]] == [
            "lg 0", "echo: lg 0", "lg 1", "echo: lg 1", "lg 2", "echo: lg 2",
            "wp 3", "echo: wp 3", "lg 4", "echo: lg 4",
        ]
        # the adapter hands back LangGraph's own tuple type
        assert isinstance(lg_saver.get_tuple(cfg), LgTuple)
        # both runtimes' histories agree checkpoint by checkpoint
        lg_hist = [(s.config["configurable"]["checkpoint_id"], len(s.values["messages"]))
                   for s in lg_graph.get_state_history(cfg)]
        wp_hist = [(s.config["configurable"]["checkpoint_id"], len(s.values["messages"]))
                   for s in wp_graph.get_state_history(cfg)]
        assert lg_hist == wp_hist


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mongodb"])
def test_interrupt_and_sends_cross_both_ways(kind: str, tmp_path: Path) -> None:
    with backend(kind, tmp_path) as (lg_saver, wp_saver, _, _):
        lg_graph, wp_graph = fan_graph("langgraph", lg_saver), fan_graph("waypoint", wp_saver)
        # LangGraph interrupts, waypoint resumes
        a = {"configurable": {"thread_id": "a"}}
        out = lg_graph.invoke({"items": []}, a)
        assert out["__interrupt__"][0].value == {"question": "ok?", "have": 3}
        snap, lg_snap = wp_graph.get_state(a), lg_graph.get_state(a)
        assert snap.next == ("ask",) and snap.interrupts[0].value == {"question": "ok?", "have": 3}
        # both runtimes name the task and the interrupt alike, so either can resume by id
        assert [t.id for t in snap.tasks] == [t.id for t in lg_snap.tasks]
        assert snap.interrupts[0].id == lg_snap.interrupts[0].id
        assert wp_graph.invoke(WpCommand(resume="yes"), a) == {"items": [0, 10, 20, "yes"]}
        # waypoint interrupts, LangGraph resumes (and sees LangGraph's own Interrupt type)
        b = {"configurable": {"thread_id": "b"}}
        wp_graph.invoke({"items": []}, b)
        snap = lg_graph.get_state(b)
        assert snap.next == ("ask",)
        assert isinstance(snap.interrupts[0], LgInterrupt)
        assert snap.interrupts[0].id == wp_graph.get_state(b).interrupts[0].id
        resume = LgCommand(resume={snap.interrupts[0].id: "no"})
        assert lg_graph.invoke(resume, b) == {"items": [0, 10, 20, "no"]}


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mongodb"])
def test_store_items_cross_between_runtimes(kind: str, tmp_path: Path) -> None:
    with backend(kind, tmp_path) as (_, _, lg_store, wp_store):
        lg_store.put(("mem", "u1"), "a", {"text": "likes green tea", "n": 1})
        wp_store.put(("mem", "u1"), "b", {"text": "owns a red bicycle", "n": 2})
        got = lg_store.get(("mem", "u1"), "b")
        assert isinstance(got, LgItem) and got.value == {"text": "owns a red bicycle", "n": 2}
        assert wp_store.get(("mem", "u1"), "a").value["text"] == "likes green tea"
        hits = lg_store.search(("mem",), query="green tea", limit=2)
        assert [h.key for h in hits] == ["a", "b"]
        assert all(isinstance(h, LgSearchItem) for h in hits) and hits[0].score > hits[1].score
        assert [h.key for h in lg_store.search(("mem",), filter={"n": {"$gt": 1}})] == ["b"]
        assert lg_store.list_namespaces(prefix=("mem",)) == [("mem", "u1")]
        lg_store.delete(("mem", "u1"), "b")
        assert wp_store.get(("mem", "u1"), "b") is None
