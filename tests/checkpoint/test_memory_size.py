"""InMemorySaver holds no more than LangGraph's for the same history, and stays exact.

The size tests run the same graph on LangGraph's runtime with LangGraph's InMemorySaver and on
waypoint's with waypoint's, and compare what ``tracemalloc`` sees the process hold afterwards.
"""

from __future__ import annotations

import copy
import datetime
import enum
import gc
import importlib
import operator
import tracemalloc
from typing import Annotated, Any, Callable, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from waypoint.checkpoint.base import LogHint, empty_checkpoint
from waypoint.checkpoint.memory import InMemorySaver
from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer

WORDS = "lorem ipsum dolor sit amet "


class Counter(TypedDict):
    count: int
    trail: Annotated[list[str], operator.add]


def _chat(lib: str, whole_list: bool) -> Any:
    graph = importlib.import_module(f"{lib}.graph")

    def bot(state: dict[str, Any]) -> dict[str, Any]:
        reply = AIMessage(content=f"reply {len(state['messages'])}: " + WORDS * 4)
        return {"messages": list(state["messages"]) + [reply] if whole_list else [reply]}

    builder = graph.StateGraph(graph.MessagesState)
    builder.add_node("bot", bot)
    builder.add_edge(graph.START, "bot")
    builder.add_edge("bot", graph.END)
    return builder


def _linear(lib: str) -> Any:
    graph = importlib.import_module(f"{lib}.graph")
    builder = graph.StateGraph(Counter)
    previous = graph.START
    for i in range(10):
        builder.add_node(f"n{i}", lambda s: {"count": s["count"] + 1})
        builder.add_edge(previous, f"n{i}")
        previous = f"n{i}"
    builder.add_edge(previous, graph.END)
    return builder


def _held(lib: str, builder: Any, run: Callable[[Any, int], None], threads: int) -> tuple[int, int]:
    """Bytes the process holds after ``run`` on each thread, and the checkpoints saved."""
    memory = importlib.import_module(f"{lib}.checkpoint.memory")
    saver = memory.InMemorySaver()
    app = builder.compile(checkpointer=saver)
    run(builder.compile(), -1)  # warm up lazily built module state outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for t in range(threads):
            run(app, t)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return held, sum(1 for _ in saver.list(None))


def _chat_turns(turns: int) -> Callable[[Any, int], None]:
    def run(app: Any, t: int) -> None:
        cfg = {"configurable": {"thread_id": f"t{t}"}} if t >= 0 else None
        for i in range(turns if t >= 0 else 1):
            app.invoke({"messages": [HumanMessage(content=f"question {i}: " + WORDS * 3)]}, cfg)

    return run


def _counts(app: Any, t: int) -> None:
    app.invoke({"count": 0, "trail": []}, {"configurable": {"thread_id": "one"}} if t >= 0 else None)


@pytest.mark.parametrize(
    "shape",
    ["chat", "chat_returning_whole_list", "small_state_one_thread"],
)
def test_memory_saver_holds_no_more_than_langgraphs(shape: str) -> None:
    if shape == "small_state_one_thread":
        make, run, threads = _linear, _counts, 8
    else:
        make, run, threads = (lambda lib: _chat(lib, shape != "chat")), _chat_turns(15), 2
    held = {lib: _held(lib, make(lib), run, threads) for lib in ("langgraph", "waypoint")}
    assert held["waypoint"][1] == held["langgraph"][1]  # the same history
    assert held["waypoint"][0] <= held["langgraph"][0], held


# --- packed rows stay exact -----------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"


class Label(str):
    pass


def _put(saver: InMemorySaver, thread: str, metadata: dict[str, Any], versions: dict[str, Any]) -> dict[str, Any]:
    cp = empty_checkpoint()
    cp["channel_values"] = {ch: i for i, ch in enumerate(versions)}
    cp["channel_versions"] = dict(versions)
    cp["versions_seen"] = {"node": dict(versions), "other": {"a": versions.get("a")}}
    cp["updated_channels"] = sorted(versions)
    config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    return saver.put(config, cp, metadata, dict(versions))


@pytest.mark.parametrize(
    "metadata",
    [
        {"source": "loop", "step": 3, "parents": {"": "x"}, "user": {"tags": ["a", 1, 2.5, None, True]}},
        {"source": "loop", "step": 3, "parents": {}, "when": datetime.datetime(2026, 1, 2, 3, 4, 5)},
        {"source": "loop", "step": 3, "parents": {}, "color": Color.RED, "label": Label("x")},
    ],
    ids=["plain", "datetime", "enum_and_str_subclass"],
)
def test_memory_rows_round_trip_exactly_and_fresh(metadata: dict[str, Any]) -> None:
    saver = InMemorySaver()
    config = _put(saver, "t", metadata, {"a": "0001.x", "b": 2})
    pristine = copy.deepcopy(metadata)
    metadata["parents"]["late"] = "mutation after put"
    metadata, stored = pristine, metadata
    assert stored != metadata
    first = saver.get_tuple(config)
    assert first is not None
    assert first.metadata == metadata
    assert [type(v) for v in first.metadata.values()] == [type(v) for v in metadata.values()]
    assert first.checkpoint["channel_versions"] == {"a": "0001.x", "b": 2}
    assert first.checkpoint["versions_seen"] == {"node": {"a": "0001.x", "b": 2}, "other": {"a": "0001.x"}}
    assert first.checkpoint["updated_channels"] == ["a", "b"]
    assert first.checkpoint["channel_values"] == {"a": 0, "b": 1}
    # mutating what a read returned changes nothing stored
    first.metadata["step"] = 99
    first.metadata["parents"]["y"] = "z"
    first.checkpoint["channel_versions"]["a"] = "9999"
    first.checkpoint["versions_seen"]["node"]["b"] = 7
    first.checkpoint["versions_seen"]["other"]["a"] = 7
    first.checkpoint["updated_channels"].append("c")
    second = saver.get_tuple(config)
    assert second is not None
    assert second.metadata == metadata
    assert second.checkpoint["channel_versions"] == {"a": "0001.x", "b": 2}
    assert second.checkpoint["versions_seen"] == {"node": {"a": "0001.x", "b": 2}, "other": {"a": "0001.x"}}
    assert second.checkpoint["updated_channels"] == ["a", "b"]
    # filters, run deletion and copies read the packed metadata
    assert [t.metadata["step"] for t in saver.list(None, filter={"step": 3})] == [3]
    assert list(saver.list(None, filter={"step": 4})) == []
    saver.copy_thread("t", "u")
    copied = saver.get_tuple({"configurable": {"thread_id": "u"}})
    assert copied is not None and copied.metadata == metadata


def test_memory_delete_for_runs_reads_packed_metadata() -> None:
    saver = InMemorySaver()
    _put(saver, "t", {"source": "loop", "step": 0, "parents": {}, "run_id": "r1"}, {"a": 1})
    _put(saver, "t", {"source": "loop", "step": 1, "parents": {}, "run_id": "r2"}, {"a": 2})
    saver.delete_for_runs(["r1"])
    assert [t.metadata["run_id"] for t in saver.list({"configurable": {"thread_id": "t"}})] == ["r2"]


# --- a value the channel could not hint as an append still shares its stored prefix ------


def _put_log(saver: InMemorySaver, config: dict[str, Any], items: list[Any], base: Any, prefix: int) -> dict[str, Any]:
    version = saver.get_next_version(base)
    cp = empty_checkpoint()
    cp["channel_values"] = {"log": list(items)}
    cp["channel_versions"] = {"log": version}
    cp["channel_logs"] = {"log": LogHint(base, prefix)}
    return saver.put(config, cp, {"source": "loop", "step": 0, "parents": {}}, {"log": version})


def _version(saver: InMemorySaver, config: dict[str, Any]) -> Any:
    tup = saver.get_tuple(config)
    assert tup is not None
    return tup.checkpoint["channel_versions"]["log"]


def _dump(values: list[Any]) -> list[Any]:
    return [JsonPlusSerializer().dumps_typed(v) for v in values]


def test_memory_unhinted_append_extends_the_lineage_and_history_stays_exact() -> None:
    saver = InMemorySaver()
    config: dict[str, Any] = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    history, items, base = [], [], None
    for i in range(70):  # the channel says "nothing shared" every time
        items = items + [HumanMessage(content=f"m{i}", id=f"m{i}")]
        config = _put_log(saver, config, items, base, 0)
        base = _version(saver, config)
        history.append((config, list(items)))
    assert len(saver._lineages) == 1
    for cfg, expected in history:
        tup = saver.get_tuple(cfg)
        assert tup is not None and _dump(tup.checkpoint["channel_values"]["log"]) == _dump(expected)


def test_memory_edit_in_the_middle_shares_only_the_unchanged_prefix() -> None:
    saver = InMemorySaver()
    config: dict[str, Any] = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    items = [HumanMessage(content=f"m{i}", id=f"m{i}") for i in range(10)]
    first = _put_log(saver, config, items, None, 0)
    edited = items[:6] + [HumanMessage(content="changed", id="m6")] + items[7:] + [AIMessage(content="new", id="n")]
    second = _put_log(saver, first, edited, _version(saver, first), 2)  # hint says only 2 shared
    assert len(saver._lineages) == 2
    child = next(e for e in saver._lineages.values() if len(e.row.chain) == 2)
    assert child.row.chain[-1][1] == 6  # the child's own items start at the edit
    assert len(child.items) == 5
    for cfg, expected in ((first, items), (second, edited)):
        tup = saver.get_tuple(cfg)
        assert tup is not None and _dump(tup.checkpoint["channel_values"]["log"]) == _dump(expected)
    # a shorter value that equals a prefix points into the stored lineage
    third = _put_log(saver, second, edited[:4], _version(saver, second), 0)
    tup = saver.get_tuple(third)
    assert tup is not None and _dump(tup.checkpoint["channel_values"]["log"]) == _dump(edited[:4])
    assert len(saver._lineages) == 2


# --- full chunks of plain items read back with one marshal call, still fresh -------------


@pytest.mark.parametrize("upto", [64, 100, 130, 200])  # one chunk, chunk and tail, older versions
def test_memory_plain_and_mixed_chunks_read_exactly_and_fresh(upto: int) -> None:
    saver = InMemorySaver()
    config: dict[str, Any] = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    # chunk 0 plain dicts, chunk 1 holds a message, chunks 2-3 plain, then a tail of 8
    items: list[Any] = [
        AIMessage(content="m", id="m") if i == 90 else {"i": i, "tags": [i, "x"], "t": (i, 1.5)} for i in range(200)
    ]
    configs, base, done = {}, None, 0
    for n in (10, 64, 100, 130, 150, 200):
        config = _put_log(saver, config, items[:n], base, done)
        base, done = _version(saver, config), n
        configs[n] = config
    want = items[:upto]
    for _ in range(2):  # cold decode cache, then warm
        got = saver.get_tuple(configs[upto]).checkpoint["channel_values"]["log"]  # type: ignore[union-attr]
        assert _dump(got) == _dump(want)
        assert type(got[-1]["t"]) is tuple
        got[0]["tags"].append("mutated")
        got[-1]["i"] = "mutated"
    other = saver.get_tuple(configs[upto]).checkpoint["channel_values"]["log"]  # type: ignore[union-attr]
    assert _dump(other) == _dump(want)
    assert other[0] is not got[0] and other[0]["tags"] is not got[0]["tags"]
    assert saver._lineages and all(len(e.row.chain) == 1 for e in saver._lineages.values())
