"""Graphs the web-inspector tests run: ``builder`` is what ``waypoint ui --graph
tests.ui._graphs:builder`` loads (the CLI tests' approval graph: draft, interrupt, finish)."""

from __future__ import annotations

from waypoint.graph import END, START, StateGraph

from tests.cli._graph import State, approve, draft, finish

builder = StateGraph(State)
builder.add_node(draft).add_node(approve).add_node(finish)
builder.add_edge(START, "draft").add_edge("draft", "approve").add_edge("approve", "finish").add_edge("finish", END)
