"""``get_graph()`` / ``get_graph(xray=...)`` / ``draw_mermaid()``: the same nodes, edges and
Mermaid text as LangGraph 1.2 for the same graph, subgraphs expanded by ``xray`` (all levels
for ``True``, ``n`` levels for an int)."""

from __future__ import annotations

import importlib
import operator
from typing import Annotated, Any, Literal, TypedDict

import pytest

from waypoint import _langchain


class S(TypedDict):
    log: Annotated[list, operator.add]


def _build(pkg: str) -> Any:
    g = importlib.import_module(pkg + ".graph")
    t = importlib.import_module(pkg + ".types")
    inner = g.StateGraph(S).add_node("i1", lambda s: {}).add_node("i2", lambda s: {})
    inner = inner.add_edge(g.START, "i1").add_edge("i1", "i2").compile()
    mid = g.StateGraph(S).add_node("inner", inner).add_node("m", lambda s: {}, metadata={"owner": "team"})
    mid = mid.add_edge(g.START, "inner").add_edge("inner", "m").compile()

    def route(state: S) -> Literal["a", "__end__"]:
        return "a"

    def jump(state: S) -> t.Command[Literal["b", "c"]]:
        return t.Command(goto="b")

    b = g.StateGraph(S)
    b.add_node("a", lambda s: {}).add_node("mid", mid).add_node("b", lambda s: {}).add_node("c", lambda s: {})
    b.add_node("jump", jump)
    b.add_edge(g.START, "a").add_conditional_edges("a", lambda s: "x", {"x": "mid", "y": "b", "z": "jump"})
    b.add_edge("mid", "b").add_conditional_edges("b", route).add_edge(["a", "b"], "c")
    return b.compile()


@pytest.mark.parametrize("xray", [False, True, 1, 2, 0])
def test_mermaid_and_xray_as_langgraph(xray: bool | int) -> None:
    ours, theirs = _build("waypoint").get_graph(xray=xray), _build("langgraph").get_graph(xray=xray)
    assert ours.draw_mermaid() == theirs.draw_mermaid()
    assert sorted(ours.nodes) == sorted(theirs.nodes)
    assert sorted(ours.edges) == sorted(theirs.edges)
    expanded = any(":" in n for n in ours.nodes)
    assert expanded == (xray is not False and xray != 0)
    if xray is True or (type(xray) is int and xray == 2):
        assert "mid:inner:i1" in ours.nodes and "mid" not in ours.nodes
    if type(xray) is int and xray == 1:  # one level: the inner subgraph stays one node
        assert "mid:inner" in ours.nodes and "mid:inner:i1" not in ours.nodes


def test_without_langchain_same_nodes_and_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    with_lc = _build("waypoint").get_graph(xray=True)
    flat_lc = _build("waypoint").get_graph().draw_mermaid()
    monkeypatch.setattr(_langchain, "_LC", None)
    plain = _build("waypoint").get_graph(xray=True)
    assert type(plain).__name__ == "DrawableGraph"
    assert list(plain.nodes) == list(with_lc.nodes)
    assert [tuple(e) for e in plain.edges] == [tuple(e) for e in with_lc.edges]
    flat = _build("waypoint").get_graph()
    # a graph without node metadata or subgraph blocks renders the same text as LangChain's
    flat_text = flat.draw_mermaid()
    assert flat_text.splitlines()[:7] == flat_lc.splitlines()[:7]
    assert "\ta -. &nbsp;x&nbsp; .-> mid;" in flat_text and "\tb -.-> __end__;" in flat_text
    assert "mid\\3ainner\\3ai1" in plain.draw_mermaid()


def test_xray_must_be_bool_or_int() -> None:
    with pytest.raises(TypeError, match="xray"):
        _build("waypoint").get_graph(xray="yes")
