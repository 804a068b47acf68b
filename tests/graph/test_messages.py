"""add_messages, RemoveMessage, REMOVE_ALL_MESSAGES and MessagesState.

Tests marked ``plain`` run with waypoint's LangChain layer switched off (messages stay as
given); the others run with langchain-core, as LangGraph does, and compare with it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from waypoint import _langchain
from waypoint.checkpoint.memory import InMemorySaver
from waypoint.graph import START, MessagesState, StateGraph, add_messages
from waypoint.graph.message import REMOVE_ALL_MESSAGES, RemoveMessage, merge_messages


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behave as if langchain-core were not installed."""
    monkeypatch.setattr(_langchain, "_LC", None)


@dataclass
class Msg:
    content: str
    id: str | None = None
    type: str = "ai"


@pytest.mark.usefixtures("plain")
def test_appends_and_assigns_uuid_ids() -> None:
    left = [{"role": "user", "content": "hi", "id": "1"}]
    out = add_messages(left, [{"role": "assistant", "content": "yo"}])
    assert [m["content"] for m in out] == ["hi", "yo"]
    uuid.UUID(out[1]["id"])  # a uuid4 string
    assert left == [{"role": "user", "content": "hi", "id": "1"}]  # inputs untouched


@pytest.mark.usefixtures("plain")
def test_replaces_by_id_in_place() -> None:
    left = [{"role": "user", "content": "a", "id": "1"}, {"role": "ai", "content": "b", "id": "2"}]
    out = add_messages(left, {"role": "ai", "content": "B", "id": "2"})
    assert [m["content"] for m in out] == ["a", "B"]


@pytest.mark.usefixtures("plain")
def test_objects_with_id_attribute() -> None:
    first = Msg("x", id="m1")
    out = add_messages([first], [Msg("y"), Msg("x2", id="m1")])
    assert [m.content for m in out] == ["x2", "y"]
    assert out[1].id is not None


@pytest.mark.usefixtures("plain")
def test_remove_by_marker_or_dict_and_remove_all() -> None:
    left = [{"content": c, "id": c} for c in "abc"]
    assert [m["id"] for m in add_messages(left, RemoveMessage(id="b"))] == ["a", "c"]
    assert [m["id"] for m in add_messages(left, {"type": "remove", "id": "a"})] == ["b", "c"]
    out = add_messages(left, [RemoveMessage(id=REMOVE_ALL_MESSAGES), {"content": "new", "id": "n"}])
    assert [m["id"] for m in out] == ["n"]
    with pytest.raises(ValueError, match="zzz"):
        add_messages(left, RemoveMessage(id="zzz"))


@pytest.mark.usefixtures("plain")
def test_strings_and_tuples_become_dict_messages() -> None:
    out = add_messages([], ["hello", ("assistant", "hey")])
    assert [(m["role"], m["content"]) for m in out] == [("user", "hello"), ("assistant", "hey")]


@pytest.mark.usefixtures("plain")
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


@pytest.mark.usefixtures("plain")
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


# --- with langchain-core installed: as LangGraph ------------------------------------------

from langchain_core.messages import (  # noqa: E402
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    ToolMessage,
)
from langchain_core.messages import RemoveMessage as LCRemoveMessage  # noqa: E402
from langgraph.graph.message import add_messages as lg_add_messages  # noqa: E402

from waypoint.errors import LangChainRequiredError, MessageCoercionError  # noqa: E402
from waypoint.graph.message import merge_messages_openai  # noqa: E402


def _shape(msgs: list) -> list:
    """Messages without their random ids."""
    return [(type(m).__name__, m.model_dump(exclude={"id"})) for m in msgs]


def test_message_like_values_become_langchain_messages_as_in_langgraph() -> None:
    inputs = [
        "hello",
        ("assistant", "hey"),
        {"role": "user", "content": "dict"},
        {"type": "ai", "content": "typed", "id": "t1"},
        {"role": "tool", "content": "42", "tool_call_id": "call-1"},
        AIMessageChunk(content="chunk", id="c1"),
        HumanMessage(content="obj", id="o1"),
    ]
    ours = add_messages([], list(inputs))
    theirs = lg_add_messages([], list(inputs))
    assert _shape(ours) == _shape(theirs)
    assert [type(m) for m in ours] == [
        HumanMessage, AIMessage, HumanMessage, AIMessage, ToolMessage, AIMessage, HumanMessage
    ]
    assert ours[3].id == "t1" and ours[5].id == "c1" and ours[6].id == "o1"
    for i in (0, 1, 2, 4):
        uuid.UUID(ours[i].id)  # assigned a uuid4 string


def test_plain_dict_state_is_coerced_on_the_next_write_as_in_langgraph() -> None:
    left = [{"role": "user", "content": "old"}]
    ours = add_messages(left, "new")
    assert _shape(ours) == _shape(lg_add_messages(left, "new"))
    assert all(isinstance(m, HumanMessage) and m.id for m in ours)


def test_remove_and_remove_all_with_langchain_messages() -> None:
    left = [HumanMessage(content=c, id=c) for c in "abc"]
    for remove in (LCRemoveMessage(id="b"), RemoveMessage(id="b"), {"type": "remove", "id": "b"}):
        assert [m.id for m in add_messages(left, remove)] == ["a", "c"]
    out = add_messages(left, [LCRemoveMessage(id=REMOVE_ALL_MESSAGES), AIMessage("n", id="n")])
    assert [m.id for m in out] == ["n"]
    with pytest.raises(ValueError, match="zzz"):
        add_messages(left, LCRemoveMessage(id="zzz"))


def test_merge_keeps_the_very_message_objects_for_the_item_log() -> None:
    left = [HumanMessage(content=c, id=c) for c in "abcd"]
    out, prefix = merge_messages(left, [{"role": "ai", "content": "e"}])
    assert prefix == 4 and all(a is b for a, b in zip(left, out))
    assert isinstance(out[4], AIMessage)
    out, prefix = merge_messages(left, [AIMessage("C", id="c")])
    assert prefix == 2 and out[2].content == "C"


def test_not_message_like_is_a_named_error() -> None:
    with pytest.raises(MessageCoercionError, match="Msg"):
        add_messages([], [Msg("x", id="1")])


def test_format_langchain_openai_keeps_ids_unlike_langgraph() -> None:
    reducer = add_messages(format="langchain-openai")
    left = reducer([], [HumanMessage(content="a", id="a")])
    new = AIMessage(content=[{"type": "text", "text": "hi"}, {"type": "text", "text": " there"}], id="h")
    ours = reducer(left, [new])
    theirs = lg_add_messages(format="langchain-openai")(left, [new])
    assert [m.content for m in ours] == [m.content for m in theirs] == ["a", "hi\n there"]
    assert [m.id for m in ours] == ["a", "h"]  # LangGraph drops both ids
    assert [m.id for m in theirs] == [None, None]
    ours = reducer(ours, AIMessage("replaced", id="h"))
    assert [(m.id, m.content) for m in ours] == [("a", "a"), ("h", "replaced")]
    merged, prefix = merge_messages_openai(ours, [HumanMessage("x", id="x")])
    assert prefix == 2 and merged[0] is ours[0]
    with pytest.raises(ValueError, match="nope"):
        add_messages(format="nope")


@pytest.mark.usefixtures("plain")
def test_format_without_langchain_is_a_named_error() -> None:
    with pytest.raises(LangChainRequiredError, match="langchain-core"):
        add_messages(format="langchain-openai")


def test_messages_state_with_langchain_uses_the_item_log() -> None:
    from tests.pregel.test_engine import Recording

    def bot(state: MessagesState) -> dict:
        return {"messages": [("assistant", f"echo {state['messages'][-1].content}")]}

    saver = Recording()
    graph = StateGraph(MessagesState).add_node(bot).add_edge(START, "bot").compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "chat"}}
    for turn in range(3):
        graph.invoke({"messages": [{"role": "user", "content": f"t{turn}"}]}, config, durability="sync")
    msgs = graph.get_state(config).values["messages"]
    assert [type(m).__name__ for m in msgs] == ["HumanMessage", "AIMessage"] * 3
    assert [m.content for m in msgs] == ["t0", "echo t0", "t1", "echo t1", "t2", "echo t2"]
    last = saver.puts()[-1]["logs"]["messages"]
    assert last.prefix_len == 5  # the reply only appended to the version before it


def test_without_langchain_installed_dicts_stay_dicts(tmp_path) -> None:
    import subprocess
    import sys

    program = """
import sys
sys.modules["langchain_core"] = None  # as if not installed
from waypoint.graph import START, MessagesState, StateGraph
from waypoint.checkpoint.memory import InMemorySaver
def bot(state):
    return {"messages": [("assistant", "echo " + state["messages"][-1]["content"])]}
g = StateGraph(MessagesState).add_node(bot).add_edge(START, "bot").compile(checkpointer=InMemorySaver())
out = g.invoke({"messages": "hi"}, {"configurable": {"thread_id": "t"}})
print([(m["role"], m["content"]) for m in out["messages"]])
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('user', 'hi'), ('assistant', 'echo hi')]"
