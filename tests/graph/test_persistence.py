"""Checkpoints, history, replay/fork and update_state against the in-memory saver."""

from __future__ import annotations

from collections import Counter
from operator import add
from typing import Annotated, Any, TypedDict

import pytest

from waypoint.checkpoint.memory import InMemorySaver
from waypoint.errors import ConfigError, InvalidUpdateError
from waypoint.graph import END, START, StateGraph
from waypoint.types import Command, StateUpdate


class State(TypedDict):
    foo: str
    bar: Annotated[list[str], add]


def quickstart(runs: Counter | None = None, checkpointer: Any = None) -> Any:
    runs = runs if runs is not None else Counter()

    def node_a(state: State) -> dict:
        runs["node_a"] += 1
        return {"foo": "a", "bar": ["a"]}

    def node_b(state: State) -> dict:
        runs["node_b"] += 1
        return {"foo": "b", "bar": ["b"]}

    builder = StateGraph(State)
    builder.add_node(node_a)
    builder.add_node(node_b)
    builder.add_edge(START, "node_a")
    builder.add_edge("node_a", "node_b")
    builder.add_edge("node_b", END)
    return builder.compile(checkpointer=checkpointer or InMemorySaver())


def cid(config: dict) -> str:
    return config["configurable"]["checkpoint_id"]


def test_persistence_quickstart_seed() -> None:
    graph = quickstart()
    config = {"configurable": {"thread_id": "1"}}
    assert graph.invoke({"foo": ""}, config) == {"foo": "b", "bar": ["a", "b"]}

    state = graph.get_state(config)
    assert state.values == {"foo": "b", "bar": ["a", "b"]}
    assert state.next == ()
    assert state.metadata["source"] == "loop"
    assert state.metadata["step"] == 2

    history = list(graph.get_state_history(config))
    assert [h.metadata["step"] for h in history] == [2, 1, 0, -1]
    assert [h.metadata["source"] for h in history] == ["loop", "loop", "loop", "input"]
    assert history[-1].next == ("__start__",)
    assert [h.next for h in history[:3]] == [(), ("node_b",), ("node_a",)]
    for newer, older in zip(history, history[1:]):
        assert cid(newer.parent_config) == cid(older.config)
    assert history[-1].parent_config is None
    assert history[0].config == state.config


def test_history_filter_before_limit_and_task_results() -> None:
    graph = quickstart()
    config = {"configurable": {"thread_id": "1"}}
    graph.invoke({"foo": ""}, config)
    history = list(graph.get_state_history(config))
    assert len(list(graph.get_state_history(config, limit=2))) == 2
    loops = list(graph.get_state_history(config, filter={"source": "loop"}))
    assert [h.metadata["step"] for h in loops] == [2, 1, 0]
    older = list(graph.get_state_history(config, before=history[1].config))
    assert [h.metadata["step"] for h in older] == [0, -1]
    step1 = history[1]
    assert step1.tasks[0].name == "node_b"
    assert step1.tasks[0].result == {"foo": "b", "bar": ["b"]}
    assert step1.tasks[0].path == ("__pregel_pull", "node_b")


def test_missing_thread_id_is_a_value_error_naming_thread_id() -> None:
    graph = quickstart()
    with pytest.raises(ValueError, match="thread_id") as info:
        graph.invoke({"foo": ""})
    assert isinstance(info.value, ConfigError)
    with pytest.raises(ValueError, match="thread_id"):
        graph.invoke({"foo": ""}, {"configurable": {}})


def test_metadata_carries_caller_metadata_and_run_id() -> None:
    saver = InMemorySaver()
    graph = quickstart(checkpointer=saver)
    config = {"configurable": {"thread_id": "m"}, "metadata": {"user": "ann", "n": 3}, "run_id": "r-1"}
    graph.invoke({"foo": ""}, config)
    for t in saver.list({"configurable": {"thread_id": "m"}}):
        assert t.metadata["user"] == "ann" and t.metadata["n"] == 3
        assert t.metadata["run_id"] == "r-1"
        assert t.metadata["parents"] == {}
    assert len(list(saver.list(None, filter={"user": "ann"}))) == 4


def test_replay_from_past_checkpoint_forks_and_reruns_only_later_nodes() -> None:
    runs: Counter = Counter()
    graph = quickstart(runs)
    config = {"configurable": {"thread_id": "1"}}
    graph.invoke({"foo": ""}, config)
    history = list(graph.get_state_history(config))
    before_b = history[1]  # step 1, next node_b
    assert before_b.next == ("node_b",)
    runs.clear()
    assert graph.invoke(None, before_b.config) == {"foo": "b", "bar": ["a", "b"]}
    assert runs == Counter({"node_b": 1})  # node_a is not re-run
    new_history = list(graph.get_state_history(config))
    assert len(new_history) == 6
    fork = new_history[1]
    assert fork.metadata["source"] == "fork" and fork.metadata["step"] == 2
    assert cid(fork.parent_config) == cid(before_b.config)
    assert new_history[0].metadata == {"source": "loop", "step": 3, "parents": {}}
    assert cid(new_history[0].parent_config) == cid(fork.config)


def test_update_state_as_last_node_then_continue() -> None:
    runs: Counter = Counter()
    graph = quickstart(runs)
    graph_ia = graph.builder.compile(checkpointer=graph.checkpointer, interrupt_after=["node_a"])
    config = {"configurable": {"thread_id": "u"}}
    assert graph_ia.invoke({"foo": ""}, config) == {"foo": "a", "bar": ["a"]}
    new_config = graph_ia.update_state(config, {"foo": "patched", "bar": ["x"]})
    snap = graph_ia.get_state(config)
    assert snap.config == new_config
    assert snap.metadata["source"] == "update" and snap.metadata["step"] == 2
    assert snap.values == {"foo": "patched", "bar": ["a", "x"]}
    assert snap.next == ("node_b",)  # follows node_a's edges (the node that last wrote)
    assert graph_ia.invoke(None, config) == {"foo": "b", "bar": ["a", "x", "b"]}
    assert runs == Counter({"node_a": 1, "node_b": 1})


def test_update_state_as_node_and_on_past_checkpoint_branches() -> None:
    graph = quickstart()
    config = {"configurable": {"thread_id": "p"}}
    graph.invoke({"foo": ""}, config)
    history = list(graph.get_state_history(config))
    past = history[1]  # next node_b, values foo=a
    new_config = graph.update_state(past.config, {"foo": "X"})
    snap = graph.get_state(new_config)
    assert snap.metadata["source"] == "update" and snap.metadata["step"] == 2
    assert cid(snap.parent_config) == cid(past.config)
    assert snap.values == {"foo": "X", "bar": ["a"]} and snap.next == ("node_b",)
    assert graph.get_state(config).config == new_config  # the branch is now the head
    assert graph.invoke(None, new_config) == {"foo": "b", "bar": ["a", "b"]}
    # as_node picks whose edges apply: updating as node_b ends the run
    cfg = graph.update_state(config, {"foo": "Z"}, as_node="node_b")
    assert graph.get_state(cfg).next == ()
    cfg = graph.update_state(config, {"foo": "Y"}, as_node="node_a")
    assert graph.get_state(cfg).next == ("node_b",)
    with pytest.raises(InvalidUpdateError, match="no such node"):
        graph.update_state(config, {"foo": "Y"}, as_node="nope")


def test_update_state_on_fresh_thread_acts_as_start_and_end_clears_tasks() -> None:
    runs: Counter = Counter()
    graph = quickstart(runs)
    config = {"configurable": {"thread_id": "fresh"}}
    graph.update_state(config, {"foo": "F"})
    snap = graph.get_state(config)
    assert snap.metadata["step"] == 0 and snap.next == ("node_a",)
    graph.update_state(config, None, as_node=END)
    assert graph.get_state(config).next == ()
    assert runs == Counter()
    copied = graph.update_state(config, None, as_node="__copy__")
    assert graph.get_state(copied).metadata["source"] == "fork"


def test_bulk_update_state_and_command_update() -> None:
    graph = quickstart()
    config = {"configurable": {"thread_id": "b"}}
    graph.invoke({"foo": ""}, config)
    graph.bulk_update_state(
        config, [[StateUpdate({"bar": ["m"]}, "node_a")], [StateUpdate({"foo": "n"}, "node_b")]]
    )
    history = list(graph.get_state_history(config, limit=2))
    assert [h.metadata["source"] for h in history] == ["update", "update"]
    assert history[0].values == {"foo": "n", "bar": ["a", "b", "m"]}
    cfg = graph.update_state(config, Command(update={"foo": "c"}, goto="node_a"), as_node="node_b")
    assert graph.get_state(cfg).next == ("node_a",)


def test_new_input_on_thread_discards_unfinished_tasks() -> None:
    runs: Counter = Counter()
    graph = quickstart(runs).builder.compile(checkpointer=InMemorySaver(), interrupt_before=["node_b"])
    config = {"configurable": {"thread_id": "d"}}
    graph.invoke({"foo": ""}, config)
    assert graph.get_state(config).next == ("node_b",)
    graph.invoke({"foo": "again"}, config)
    snap = graph.get_state(config)
    assert snap.next == ("node_b",) and snap.values["bar"] == ["a", "a"]
    history = list(graph.get_state_history(config))
    assert [h.metadata["source"] for h in history][:3] == ["loop", "loop", "input"]
    assert history[2].metadata["step"] == 2


async def test_async_twins_of_inspection() -> None:
    graph = quickstart()
    config = {"configurable": {"thread_id": "a"}}
    await graph.ainvoke({"foo": ""}, config)
    snap = await graph.aget_state(config)
    assert snap.values == {"foo": "b", "bar": ["a", "b"]}
    history = [h async for h in graph.aget_state_history(config)]
    assert [h.metadata["step"] for h in history] == [2, 1, 0, -1]
    cfg = await graph.aupdate_state(config, {"foo": "z"}, as_node="node_b")
    assert (await graph.aget_state(cfg)).values["foo"] == "z"
    cfg = await graph.abulk_update_state(config, [[StateUpdate({"foo": "y"}, "node_b")]])
    assert (await graph.aget_state(cfg)).values["foo"] == "y"


def test_get_state_of_unknown_thread_is_empty() -> None:
    graph = quickstart()
    snap = graph.get_state({"configurable": {"thread_id": "nobody"}})
    assert snap.values == {} and snap.next == () and snap.metadata is None


def test_node_interrupt_pauses_until_state_changes() -> None:
    from waypoint.errors import NodeInterrupt

    def guard(state: State) -> dict:
        if state["foo"] != "approved":
            raise NodeInterrupt("needs approval")
        return {"bar": ["passed"]}

    graph = StateGraph(State).add_node(guard).add_edge(START, "guard").compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "ni"}}
    out = graph.invoke({"foo": ""}, config)
    assert [i.value for i in out["__interrupt__"]] == ["needs approval"]
    graph.update_state(config, {"foo": "approved"}, as_node="__start__")
    assert graph.invoke(None, config) == {"foo": "approved", "bar": ["passed"]}
