"""InMemorySaver's decode cache: reads are fast, yet never alias each other or the store."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import BaseModel, ConfigDict, PrivateAttr, RootModel

from waypoint.checkpoint.base import LogHint, empty_checkpoint
from waypoint.checkpoint.log import LogRef
from waypoint.checkpoint.memory import InMemorySaver
from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer
from waypoint.errors import CorruptCheckpointError
from waypoint.graph import END, START, MessagesState, StateGraph


@dataclasses.dataclass
class Point:
    x: int
    tags: list[str]


class Secretive(BaseModel):
    name: str
    _hidden: list[int] = PrivateAttr(default_factory=list)


class Plain(BaseModel):
    name: str
    tags: list[str] = []


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int


class Hooked(BaseModel):
    a: int

    def model_post_init(self, context: Any) -> None:
        pass


class Root(RootModel[list[int]]):
    pass


class Nested(BaseModel):
    inner: Open


def _grow(saver: InMemorySaver, thread: str, batches: list[list[Any]]) -> dict[str, Any]:
    """Put one checkpoint per batch, each appending the batch to the ``log`` channel."""
    config: dict[str, Any] = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    items: list[Any] = []
    version = None
    for i, batch in enumerate(batches):
        prev, base = len(items), version
        items = items + batch
        version = saver.get_next_version(version)
        cp = empty_checkpoint()
        cp["channel_values"] = {"log": items}
        cp["channel_versions"] = {"log": version}
        cp["channel_logs"] = {"log": LogHint(base, prev)}
        config = saver.put(config, cp, {"source": "loop", "step": i, "parents": {}}, {"log": version})
    return config


def _log(saver: InMemorySaver, config: dict[str, Any]) -> list[Any]:
    tup = saver.get_tuple(config)
    assert tup is not None
    return tup.checkpoint["channel_values"]["log"]


def _messages(n: int) -> list[Any]:
    out: list[Any] = []
    for i in range(n):
        out.append(HumanMessage(content=f"q{i}", id=f"u{i}"))
        out.append(
            AIMessage(
                content=f"a{i}",
                id=f"a{i}",
                additional_kwargs={"meta": {"k": [i]}},
                tool_calls=[{"name": "f", "args": {"x": [i]}, "id": f"c{i}", "type": "tool_call"}],
            )
        )
    return out


def parent_version(saver: InMemorySaver, config: dict[str, Any]) -> Any:
    tup = saver.get_tuple(config)
    assert tup is not None
    return tup.checkpoint["channel_versions"]["log"]


def _snapshot(values: list[Any]) -> list[Any]:
    return [JsonPlusSerializer().dumps_typed(v) for v in values]


@pytest.mark.parametrize("turns", [3, 40, 100])  # inside one chunk, across chunks, with a tail
def test_memory_mutating_a_read_never_changes_history(turns: int) -> None:
    saver = InMemorySaver()
    msgs = _messages(turns)
    config = _grow(saver, "t", [msgs[i : i + 2] for i in range(0, len(msgs), 2)])
    expected = _snapshot(msgs)
    for _ in range(2):  # cold cache, then warm
        got = _log(saver, config)
        assert _snapshot(got) == expected
        first, last = got[0], got[-1]
        first.content = "changed"
        last.additional_kwargs["meta"]["k"].append("x")
        last.tool_calls[0]["args"]["x"].append(99)
        last.response_metadata["new"] = 1
        last.__pydantic_fields_set__.add("name")
        got.append(HumanMessage(content="extra"))
        del got[1]
    again = _log(saver, config)
    assert _snapshot(again) == expected
    assert again[-1].model_fields_set == msgs[-1].model_fields_set


def test_memory_reads_share_no_objects() -> None:
    saver = InMemorySaver()
    config = _grow(saver, "t", [_messages(70)])
    one, two = _log(saver, config), _log(saver, config)
    assert one == two and one is not two
    for a, b in zip(one, two):
        assert a is not b
        assert a.additional_kwargs is not b.additional_kwargs
        assert a.response_metadata is not b.response_metadata
        if isinstance(a, AIMessage):
            assert a.tool_calls is not b.tool_calls and a.tool_calls[0] is not b.tool_calls[0]
        assert a.__pydantic_fields_set__ is not b.__pydantic_fields_set__


def test_memory_live_value_mutated_after_put_does_not_leak() -> None:
    saver = InMemorySaver()
    msgs = _messages(2)
    config = _grow(saver, "t", [msgs])
    expected = _snapshot(msgs)
    msgs[0].content = "rewritten"
    assert _snapshot(_log(saver, config)) == expected


def test_memory_cached_values_equal_a_fresh_decode_with_exact_types() -> None:
    plain = [{"a": [1, (2, 3)], "b": {4, 5}, "c": frozenset({6}), "d": b"x", "e": 1.5, "f": None,
              "g": True, "h": 10**40, "i": "s"}]
    odd = [
        datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc),
        bytearray(b"ba"),  # marshal would turn this into bytes: must not be cached as plain
        Point(1, ["t"]),
        Secretive(name="s"),
        Plain(name="p", tags=["x"]),
        Open(a=1, more={"x": [1]}),
        Hooked(a=2),
        Root([1, 2]),
        Nested(inner=Open(a=3, more=[4])),
        ("tuple", [1]),
        "text",
        7,
    ]
    saver = InMemorySaver()
    items = plain + odd + _messages(40)
    config = _grow(saver, "t", [items[:5], items[5:]])
    serde = JsonPlusSerializer()
    fresh = [serde.loads_typed(serde.dumps_typed(v)) for v in items]
    for _ in range(2):
        got = _log(saver, config)
        assert got == fresh
        assert [type(v) for v in got] == [type(v) for v in fresh]
        models = [(v, f) for v, f in zip(got, fresh) if isinstance(v, BaseModel)]
        for v, f in models:
            assert (v.model_fields_set, v.__pydantic_extra__, v.__pydantic_private__) == (
                f.model_fields_set, f.__pydantic_extra__, f.__pydantic_private__)
        assert type(got[0]["a"][1]) is tuple and type(got[0]["c"]) is frozenset
    got[0]["a"][0] = "changed"
    got[3].tags.append("changed")
    got[5].tags.append("changed")
    got[6].more["x"].append("changed")
    got[8].root.append(3)
    got[9].inner.more.append(5)
    got[2].extend(b"!")
    assert _log(saver, config) == fresh


def test_memory_forks_and_copies_read_their_own_values() -> None:
    saver = InMemorySaver()
    base = [f"m{i}" for i in range(150)]
    config = _grow(saver, "t", [base[:70], base[70:]])
    parent = _log(saver, config)
    # fork: an append to the first version (70 items) starts a child lineage sharing its prefix
    first = list(saver.list({"configurable": {"thread_id": "t"}}))[-1]
    v1 = first.checkpoint["channel_versions"]["log"]
    cp = empty_checkpoint()
    cp["channel_values"] = {"log": base[:70] + ["fork"]}
    cp["channel_versions"] = {"log": saver.get_next_version(parent_version(saver, config))}
    cp["channel_logs"] = {"log": LogHint(v1, 70)}
    forked = saver.put(first.config, cp, {"source": "fork", "step": 2, "parents": {}}, cp["channel_versions"])
    assert _log(saver, forked) == base[:70] + ["fork"]
    assert _log(saver, config) == parent == base
    saver.copy_thread("t", "u")
    copied = dict(config, configurable=dict(config["configurable"], thread_id="u"))
    assert _log(saver, copied) == base
    _grow(saver, "u", [["later"]])
    assert _log(saver, config) == base


def test_memory_graph_state_is_not_aliased() -> None:
    def reply(state: dict[str, Any]) -> dict[str, Any]:
        n = len(state["messages"])
        return {"messages": [AIMessage(content=f"r{n}", id=f"r{n}", additional_kwargs={"n": [n]})]}

    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    app = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "chat"}}
    for i in range(40):
        app.invoke({"messages": [HumanMessage(content=f"q{i}", id=f"q{i}")]}, config)
    before = _snapshot(app.get_state(config).values["messages"])
    snap = app.get_state(config)
    snap.values["messages"][-1].content = "mutated"
    snap.values["messages"][-1].additional_kwargs["n"].append(-1)
    snap.values["messages"].clear()
    assert _snapshot(app.get_state(config).values["messages"]) == before
    history = list(app.get_state_history(config))
    history[0].values["messages"][0].content = "mutated"
    assert _snapshot(app.get_state(config).values["messages"]) == before


def test_memory_corrupt_item_is_still_reported() -> None:
    saver = InMemorySaver()
    config = _grow(saver, "t", [["a", "b"], ["c"]])
    assert _log(saver, config) == ["a", "b", "c"]
    ((key, entry),) = saver._lineages.items()
    entry.items.append(("msgpack", b"\xc1"))
    cp = empty_checkpoint()
    version = saver.get_next_version(parent_version(saver, config))
    cp["channel_versions"] = {"log": version}
    saver._blobs[(key[0], key[1], "log", str(version))] = LogRef(key[2], 4)
    cp["channel_values"] = {}
    config = saver.put(config, cp, {"source": "loop", "step": 9, "parents": {}}, {})
    with pytest.raises(CorruptCheckpointError):
        saver.get_tuple(config)
