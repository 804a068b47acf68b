"""The graph the CLI tests run for real: a draft, a human approval (``interrupt``) and a
finish step over an ``add_messages`` history and a counter. Message ids are deterministic so
two resumes of the same thread in different databases end with identical state.

The messages stay plain dicts (waypoint without langchain-core) so stored values and the CLI's
renderings stay small and stable; ``start``/``resume`` switch the LangChain layer off while
they run."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypedDict

from waypoint import _langchain

from waypoint.graph import END, START, StateGraph, add_messages
from waypoint.types import Command, interrupt


class State(TypedDict):
    messages: Annotated[list[Any], add_messages]
    count: int


def draft(state: State) -> dict[str, Any]:
    n = state.get("count", 0)
    return {"messages": [{"role": "ai", "content": f"draft {n}", "id": f"ai-{n}"}], "count": n + 1}


def approve(state: State) -> dict[str, Any]:
    answer = interrupt({"question": "approve the draft?", "count": state["count"]})
    n = state["count"]
    return {"messages": [{"role": "human", "content": answer, "id": f"human-{n}"}], "count": n + 1}


def finish(state: State) -> dict[str, Any]:
    n = state["count"]
    return {"messages": [{"role": "ai", "content": "published", "id": f"done-{n}"}], "count": n + 1}


def build(saver: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node(draft).add_node(approve).add_node(finish)
    builder.add_edge(START, "draft").add_edge("draft", "approve").add_edge("approve", "finish").add_edge("finish", END)
    return builder.compile(checkpointer=saver)


def config(thread_id: str, **metadata: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}, "metadata": metadata}


@contextmanager
def _plain_messages() -> Iterator[None]:
    saved, _langchain._LC = _langchain._LC, None
    try:
        yield
    finally:
        _langchain._LC = saved


def start(graph: Any, thread_id: str, text: str = "hello", **metadata: Any) -> dict[str, Any]:
    """Run a thread up to the approval interrupt."""
    first = {"role": "user", "content": text, "id": f"user-{thread_id}"}
    with _plain_messages():
        return graph.invoke({"messages": [first], "count": 0}, config(thread_id, **metadata))


def resume(graph: Any, thread_id: str, answer: str = "approved") -> dict[str, Any]:
    """Answer the interrupt and run the thread to its end."""
    with _plain_messages():
        return graph.invoke(Command(resume=answer), config(thread_id))


def populate(saver: Any, threads: dict[str, dict[str, Any]], finished: set[str] = frozenset()) -> Any:  # type: ignore[assignment]
    """Run each thread (metadata from ``threads``) to its interrupt; finish those in ``finished``."""
    graph = build(saver)
    for thread_id, metadata in threads.items():
        start(graph, thread_id, f"hello from {thread_id}", **metadata)
        if thread_id in finished:
            resume(graph, thread_id)
    return graph


class Outer(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


class Inner(TypedDict):
    n: int
    note: str


def build_nested(saver: Any) -> Any:
    """A parent graph whose middle node is a compiled subgraph (checkpointed under its own
    namespace in the parent's saver)."""
    inner = StateGraph(Inner)
    inner.add_node("c1", lambda s: {"note": f"c1:{s['n']}"}).add_node("c2", lambda s: {"n": s["n"] * 10})
    inner.add_edge(START, "c1").add_edge("c1", "c2")
    outer = StateGraph(Outer)
    outer.add_node("p1", lambda s: {"n": s["n"] + 1, "log": ["p1"]})
    outer.add_node("sub", inner.compile())
    outer.add_node("p2", lambda s: {"log": [f"p2:{s['n']}"]})
    outer.add_edge(START, "p1").add_edge("p1", "sub").add_edge("sub", "p2")
    return outer.compile(checkpointer=saver)
