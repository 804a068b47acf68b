"""LangChain tools (``@tool``) as graph nodes, side by side with LangGraph 1.2: a tool node
receives the state as its input and its returned dict is the update."""

import asyncio
from typing import Any, TypedDict

import pytest

pytest.importorskip("langchain_core")
from langchain_core.tools import tool  # noqa: E402

import langgraph.graph as lg_graph  # noqa: E402

import waypoint.graph as wp_graph  # noqa: E402
from waypoint.errors import InvalidUpdateError  # noqa: E402


class S(TypedDict):
    a: int
    b: int
    total: int


@tool
def add(a: int, b: int) -> dict:
    """Add two numbers."""
    return {"total": a + b}


@tool
async def aadd(a: int, b: int) -> dict:
    """Add two numbers, async."""
    return {"total": a + b}


@tool
def shout(a: int) -> str:
    """Not a state update."""
    return "LOUD"


def run(graph_mod: Any) -> list[Any]:
    g = graph_mod.StateGraph(S).add_node(add).add_edge(graph_mod.START, "add").compile()
    g2 = graph_mod.StateGraph(S).add_node("x", aadd).add_edge(graph_mod.START, "x").compile()
    out: list[Any] = [list(g.nodes), g.invoke({"a": 1, "b": 2}), list(g.stream({"a": 1, "b": 2}))]
    out.append(asyncio.run(g2.ainvoke({"a": 3, "b": 2})))
    try:
        g2.invoke({"a": 3, "b": 2})
    except NotImplementedError as exc:  # the tool itself refuses a sync call
        out.append(str(exc))
    return out


def test_tools_are_nodes_as_in_langgraph() -> None:
    wp = run(wp_graph)
    assert wp == run(lg_graph)
    assert wp[0] == ["__start__", "add"] and wp[1] == {"a": 1, "b": 2, "total": 3}


def test_a_tool_returning_a_non_update_is_a_named_error() -> None:
    g = wp_graph.StateGraph(S).add_node(shout).add_edge(wp_graph.START, "shout").compile()
    with pytest.raises(InvalidUpdateError, match="shout"):
        g.invoke({"a": 1, "b": 1})
