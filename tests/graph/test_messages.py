"""add_messages, RemoveMessage, REMOVE_ALL_MESSAGES and MessagesState."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from waypoint.checkpoint.memory import InMemorySaver
from waypoint.graph import START, MessagesState, StateGraph, add_messages
from waypoint.graph.message import REMOVE_ALL_MESSAGES, RemoveMessage, merge_messages


@dataclass
class Msg:
    content: str
    id: str | None = None
    type: str = "ai"


def test_appends_and_assigns_uuid_ids() -> None:
    left = [{"role": "user", "content": "hi", "id": "1"}]
    out = add_messages(left, [{"role": "assistant", "content": "yo"}])
    assert [m["content"] for m in out] == ["hi", "yo"]
    uuid.UUID(out[1]["id"])  # a uuid4 string
    assert left == [{"role": "user", "content": "hi", "id": "1"}]  # inputs untouched


def test_replaces_by_id_in_place() -> None:
    left = [{"role": "user", "content": "a", "id": "1"}, {"role": "ai", "content": "b", "id": "2"}]
    out = add_messages(left, {"role": "ai", "content": "B", "id": "2"})
    assert [m["content"] for m in out] == ["a", "B"]


def test_objects_with_id_attribute() -> None:
    first = Msg("x", id="m1")
    out = add_messages([first], [Msg("y"), Msg("x2", id="m1")])
    assert [m.content for m in out] == ["x2", "y"]
    assert out[1].id is not None


def test_remove_by_marker_or_dict_and_remove_all() -> None:
    left = [{"content": c, "id": c} for c in "abc"]
    assert [m["id"] for m in add_messages(left, RemoveMessage(id="b"))] == ["a", "c"]
    assert [m["id"] for m in add_messages(left, {"type": "remove", "id": "a"})] == ["b", "c"]
    out = add_messages(left, [RemoveMessage(id=REMOVE_ALL_MESSAGES), {"content": "new", "id": "n"}])
    assert [m["id"] for m in out] == ["n"]
    with pytest.raises(ValueError, match="zzz"):
        add_messages(left, RemoveMessage(id="zzz"))


def test_strings_and_tuples_become_dict_messages() -> None:
    out = add_messages([], ["hello", ("assistant", "hey")])
    assert [(m["role"], m["content"]) for m in out] == [("user", "hello"), ("assistant", "hey")]


def test_merge_reports_unchanged_prefix() -> None:
    left = [{"content": c, "id": c} for c in "abcd"]
    out, prefix = merge_messages(left, [{"content": "e", "id": "e"}])
    assert prefix == 4 and all(a is b for a, b in zip(left, out))
    out, prefix = merge_messages(left, [{"content": "C", "id": "c"}])
    assert prefix == 2 and out[2]["content"] == "C"
    out, prefix = merge_messages(left, [RemoveMessage(id="b")])
    assert prefix == 1 and [m["id"] for m in out] == ["a", "c", "d"]
    out, prefix = merge_messages(left, [RemoveMessage(id=REMOVE_ALL_MESSAGES)])
    assert prefix == 0 and out == []


def test_messages_state_chat_loop_with_checkpointer() -> None:
    def bot(state: MessagesState) -> dict:
        last = state["messages"][-1]
        return {"messages": [{"role": "assistant", "content": f"echo {last['content']}"}]}

    graph = StateGraph(MessagesState).add_node(bot).add_edge(START, "bot").compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "chat"}}
    for turn in range(3):
        graph.invoke({"messages": [{"role": "user", "content": f"t{turn}"}]}, config)
    msgs = graph.get_state(config).values["messages"]
    assert [m["content"] for m in msgs] == ["t0", "echo t0", "t1", "echo t1", "t2", "echo t2"]
    assert len({m["id"] for m in msgs}) == 6
