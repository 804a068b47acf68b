"""Engine-level contracts with savers: log hints, write/put ordering, durability, task ids."""

from __future__ import annotations

import operator
import threading
import time
from typing import Annotated, Any, TypedDict

import pytest

from waypoint.checkpoint.base import LogHint
from waypoint.checkpoint.memory import InMemorySaver
from waypoint.graph import END, START, MessagesState, StateGraph
from waypoint.graph.message import RemoveMessage
from waypoint.pregel.loop import Loop
from waypoint.types import interrupt


class Recording(InMemorySaver):
    """An InMemorySaver that logs every put / put_writes it receives."""

    def __init__(self, put_delay: float = 0.0) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []
        self.put_delay = put_delay
        self.threads: set[int] = set()

    def put(self, config, checkpoint, metadata, new_versions):  # type: ignore[no-untyped-def]
        self.threads.add(threading.get_ident())
        if self.put_delay:
            time.sleep(self.put_delay)
        self.calls.append(("put", {
            "id": checkpoint["id"], "step": metadata["step"], "source": metadata["source"],
            "logs": dict(checkpoint.get("channel_logs") or {}), "new": dict(new_versions),
            "versions": dict(checkpoint["channel_versions"]), "parent": config["configurable"].get("checkpoint_id"),
        }))
        return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config, writes, task_id, task_path=""):  # type: ignore[no-untyped-def]
        self.calls.append(("put_writes", {"checkpoint": config["configurable"]["checkpoint_id"],
                                          "channels": [c for c, _ in writes], "task": task_id}))
        return super().put_writes(config, writes, task_id, task_path)

    def puts(self) -> list[dict]:
        return [c for kind, c in self.calls if kind == "put"]


class S(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


def counter_graph(saver: Any, steps: int = 3) -> Any:
    builder = StateGraph(S).add_node("inc", lambda s: {"n": s["n"] + 1, "log": [f"i{s['n']}"]})
    builder.add_edge(START, "inc").add_conditional_edges("inc", lambda s: "inc" if s["n"] < steps else END)
    return builder.compile(checkpointer=saver)


def test_log_hints_point_at_the_previous_put_version() -> None:
    saver = Recording()
    graph = counter_graph(saver)
    graph.invoke({"n": 0, "log": []}, {"configurable": {"thread_id": "h"}}, durability="sync")
    puts = saver.puts()
    prev_versions: dict[str, Any] = {}
    for put in puts:
        if "log" in put["new"]:
            hint = put["logs"]["log"]
            assert isinstance(hint, LogHint)
            assert hint.base_version == prev_versions.get("log")
        prev_versions = put["versions"]
    hints = [p["logs"]["log"].prefix_len for p in puts if "log" in p["new"]]
    assert hints == [0, 0, 1, 2]  # input [], then each step appends one item


def test_log_hints_with_exit_durability_span_the_whole_run() -> None:
    saver = Recording()
    graph = counter_graph(saver)
    config = {"configurable": {"thread_id": "e"}}
    graph.invoke({"n": 0, "log": []}, config, durability="exit")
    graph.invoke({"n": 0, "log": ["x"]}, config, durability="exit")
    first, second = saver.puts()
    assert first["logs"]["log"] == LogHint(None, 0)
    assert second["logs"]["log"] == LogHint(first["versions"]["log"], 3)
    assert graph.get_state(config).values["log"] == ["i0", "i1", "i2", "x", "i0", "i1", "i2"]


def test_add_messages_replacement_hint() -> None:
    saver = Recording()

    def edit(state: MessagesState) -> dict:
        return {"messages": [{"role": "ai", "content": "edited", "id": "m1"}]}

    builder = StateGraph(MessagesState).add_node(edit).add_edge(START, "edit")
    graph = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "m"}}
    msgs = [{"role": "user", "content": c, "id": f"m{i}"} for i, c in enumerate("abc")]
    graph.invoke({"messages": msgs}, config, durability="sync")
    last = saver.puts()[-1]
    assert last["logs"]["messages"].prefix_len == 1
    graph.update_state(config, {"messages": [RemoveMessage(id="m2")]}, as_node="edit")
    assert saver.puts()[-1]["logs"]["messages"].prefix_len == 2
    assert [m.content for m in graph.get_state(config).values["messages"]] == ["a", "edited"]


def test_task_writes_are_saved_before_the_steps_checkpoint() -> None:
    for durability in ("sync", "async"):
        saver = Recording(put_delay=0.002)
        counter_graph(saver).invoke({"n": 0}, {"configurable": {"thread_id": durability}}, durability=durability)
        put_ids: list[str] = []
        for kind, call in saver.calls:
            if kind == "put":
                put_ids.append(call["id"])
            else:  # writes are stored against a checkpoint that was already stored
                assert call["checkpoint"] in put_ids
                assert call["checkpoint"] == put_ids[-1]
        assert len(put_ids) == 5


def test_async_durability_puts_in_background_and_sync_inline() -> None:
    saver = Recording()
    counter_graph(saver).invoke({"n": 0}, {"configurable": {"thread_id": "a"}}, durability="async")
    assert threading.get_ident() not in saver.threads
    saver = Recording()
    counter_graph(saver).invoke({"n": 0}, {"configurable": {"thread_id": "s"}}, durability="sync")
    assert saver.threads == {threading.get_ident()}


def test_exit_durability_stores_only_the_last_checkpoint() -> None:
    saver = Recording()
    graph = counter_graph(saver)
    config = {"configurable": {"thread_id": "x"}}
    graph.invoke({"n": 0}, config, durability="exit")
    assert [p["step"] for p in saver.puts()] == [3]
    assert not any(kind == "put_writes" for kind, _ in saver.calls)
    assert graph.get_state(config).values["n"] == 3
    with pytest.raises(ValueError, match="durability"):
        graph.invoke({"n": 0}, config, durability="never")


def test_task_ids_are_deterministic_for_resume() -> None:
    saver = InMemorySaver()

    def ask(s: S) -> dict:
        return {"n": interrupt("?")}

    graph = StateGraph(S).add_node(ask).add_edge(START, "ask").compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke({"n": 0}, config)
    first = graph.get_state(config).tasks[0].id
    assert graph.get_state(config).tasks[0].id == first
    pending = saver.get_tuple(config).pending_writes
    assert pending and pending[0][0] == first


def test_loop_is_io_free() -> None:
    graph = counter_graph(None)
    loop = Loop(graph, {"configurable": {}}, checkpointer=None, store=None)
    loop.start(None, {"n": 2})
    steps = 0
    while loop.tick():
        for task in loop.tasks:
            from waypoint.pregel.retry import run_task

            run_task(task)
            loop.task_done(task)
        loop.after_tick()
        steps += 1
    assert loop.status == "done" and loop.outbox == []
    assert loop.output() == {"n": 3, "log": ["i2"]} and steps == 2
