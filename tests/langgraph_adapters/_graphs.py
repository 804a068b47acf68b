"""The same small graphs built with LangGraph and with waypoint, for cross-runtime tests."""

from __future__ import annotations

import hashlib
import math
import operator
from typing import Annotated, Any, TypedDict


def embed(texts: list[str]) -> list[list[float]]:
    """A deterministic bag-of-words embedding (16 dims): equal words, equal directions."""
    out = []
    for text in texts:
        v = [0.0] * 16
        for word in text.lower().split():
            v[hashlib.sha256(word.encode()).digest()[0] % 16] += 1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        out.append([x / norm for x in v])
    return out


INDEX = {"dims": 16, "embed": embed, "fields": ["text"]}


class Fan(TypedDict):
    items: Annotated[list, operator.add]


def chat_graph(lib: str, checkpointer: Any) -> Any:
    """A one-node chat that answers every human message (messages appended each turn)."""
    if lib == "langgraph":
        from langgraph.graph import END, START, MessagesState, StateGraph
    else:
        from waypoint.graph import END, START, MessagesState, StateGraph
    from langchain_core.messages import AIMessage

    def reply(state: Any) -> dict:
        return {"messages": [AIMessage(content=f"echo: {state['messages'][-1].content}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    return builder.compile(checkpointer=checkpointer)


def fan_graph(lib: str, checkpointer: Any) -> Any:
    """Send fan-out to ``work``, then ``ask`` interrupts and appends the answer."""
    if lib == "langgraph":
        from langgraph.graph import END, START, StateGraph
        from langgraph.types import Send, interrupt
    else:
        from waypoint.graph import END, START, StateGraph
        from waypoint.types import Send, interrupt

    def fan(state: Fan) -> list:
        return [Send("work", {"x": i}) for i in range(3)]

    def work(state: dict) -> dict:
        return {"items": [state["x"] * 10]}

    def ask(state: Fan) -> dict:
        return {"items": [interrupt({"question": "ok?", "have": len(state["items"])})]}

    builder = StateGraph(Fan)
    builder.add_node("work", work)
    builder.add_node("ask", ask)
    builder.add_conditional_edges(START, fan, ["work"])
    builder.add_edge("work", "ask")
    builder.add_edge("ask", END)
    return builder.compile(checkpointer=checkpointer)
