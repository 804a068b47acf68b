"""``push_message``: a node streams a message on ``stream_mode="messages"`` at once and
writes it to the state, as LangGraph's ``langgraph.graph.message.push_message``; and the
deprecated ``MessageGraph``. Each case runs the same program on both libraries."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from waypoint import _langchain
from waypoint.errors import InvalidUpdateError, MessageCoercionError


def _program(pkg: str, *, subgraphs: bool = False) -> list[Any]:
    g = importlib.import_module(pkg + ".graph")
    message = importlib.import_module(pkg + ".graph.message")

    def node(state: Any) -> Any:
        message.push_message(AIMessage("pushed", id="m1"))
        message.push_message({"role": "assistant", "content": "only streamed", "id": "m2"}, state_key=None)
        return {"messages": [AIMessage("returned", id="m3")]}

    inner = g.StateGraph(g.MessagesState)
    inner.add_node("n", node)
    inner.add_edge(g.START, "n")
    outer = g.StateGraph(g.MessagesState)
    outer.add_node("sub", inner.compile())
    outer.add_node("after", lambda s: message.push_message(("ai", "x")) and {})  # no id: refused
    outer.add_edge(g.START, "sub")
    graph = outer.compile() if subgraphs else inner.compile()
    out: list[Any] = []
    stream = graph.stream({"messages": [("user", "hi")]}, stream_mode=["messages", "values"], subgraphs=subgraphs)
    for item in stream:
        ns, (mode, chunk) = (item[0], item[1:]) if subgraphs else ((), item)
        if mode == "messages":
            m, meta = chunk
            keys = ("langgraph_node", "langgraph_step", "langgraph_triggers")
            out.append((len(ns), "messages", type(m).__name__, m.content, m.id, [meta[k] for k in keys]))
        else:
            out.append((len(ns), "values", [(type(m).__name__, m.content) for m in chunk["messages"]]))
    return out


def test_push_message_streams_and_writes_state_as_langgraph() -> None:
    ours, theirs = _program("waypoint"), _program("langgraph")
    assert ours == theirs
    assert [x[3] for x in ours if x[1] == "messages"] == ["pushed", "only streamed", "returned"]
    assert ours[-1][2] == [("HumanMessage", "hi"), ("AIMessage", "pushed"), ("AIMessage", "returned")]


def test_push_message_from_a_subgraph_as_langgraph() -> None:
    ours, theirs = _program("waypoint", subgraphs=True), _program("langgraph", subgraphs=True)
    assert ours == theirs  # each message once (a subgraph adds no second handler)
    assert (1, "messages", "AIMessage", "pushed") in [x[:4] for x in ours]


def test_push_message_needs_an_id_and_a_known_key() -> None:
    from waypoint.graph import START, MessagesState, StateGraph
    from waypoint.graph.message import push_message

    def build(node: Any) -> Any:
        return StateGraph(MessagesState).add_node("n", node).add_edge(START, "n").compile()

    with pytest.raises(MessageCoercionError, match="id"):
        build(lambda s: push_message(("ai", "no id")) and {}).invoke({"messages": []})
    with pytest.raises(ValueError, match="Message ID is required"):  # LangGraph: a ValueError too
        from langgraph.graph import START as LS, MessagesState as LM, StateGraph as LG
        from langgraph.graph.message import push_message as lg_push

        LG(LM).add_node("n", lambda s: lg_push(("ai", "no id")) and {}).add_edge(LS, "n").compile().invoke({"messages": []})
    with pytest.raises(InvalidUpdateError, match="state_key='history'"):
        build(lambda s: push_message(AIMessage("x", id="1"), state_key="history") and {}).invoke({"messages": []})
    with pytest.raises(RuntimeError, match="inside a running graph node"):
        push_message(AIMessage("x", id="1"))


def test_push_message_without_langchain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_langchain, "_LC", None)
    from waypoint.graph import START, MessagesState, StateGraph
    from waypoint.graph.message import push_message

    def node(state: Any) -> Any:
        push_message({"role": "assistant", "content": "p", "id": "p1"})
        return {"messages": [{"role": "assistant", "content": "r", "id": "r1"}]}

    graph = StateGraph(MessagesState).add_node("n", node).add_edge(START, "n").compile()
    chunks = list(graph.stream({"messages": [{"role": "user", "content": "hi", "id": "u"}]},
                               stream_mode=["messages", "values"]))
    streamed = [c[1][0]["id"] for c in chunks if c[0] == "messages"]
    assert streamed == ["p1", "r1"]  # the pushed one once, when pushed
    assert [m["id"] for m in chunks[-1][1]["messages"]] == ["u", "p1", "r1"]


def test_message_graph_deprecated_as_langgraph() -> None:
    from langgraph.graph.message import MessageGraph as LGMessageGraph

    from waypoint.graph import MessageGraph
    from waypoint.warnings import LangGraphDeprecatedSinceV10

    results = []
    for cls in (MessageGraph, LGMessageGraph):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            b = cls()
        assert caught and issubclass(caught[0].category, DeprecationWarning)
        b.add_node("bot", lambda msgs: [("assistant", f"{len(msgs)} seen")])
        b.set_entry_point("bot")
        b.set_finish_point("bot")
        out = b.compile().invoke([("user", "hi")])
        results.append([(type(m).__name__, m.content) for m in out])
    assert results[0] == results[1] == [("HumanMessage", "hi"), ("AIMessage", "1 seen")]
    with pytest.warns(LangGraphDeprecatedSinceV10):
        MessageGraph()
