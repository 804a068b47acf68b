"""A LangChain-message chat graph run for real: a scripted model node that asks for a tool,
a tool node answering each tool call with a ``ToolMessage``, retrieved ``Document``s in the
state. Its databases hold exactly what LangGraph programs store (LangChain message objects
with tool calls), which the CLI and the web inspector must open without ``-I``."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.documents import Document
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage

from waypoint.graph import END, START, StateGraph, add_messages


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    docs: list[Document]


def model(state: ChatState) -> dict[str, Any]:
    last = state["messages"][-1]
    if isinstance(last, ToolMessage):
        return {"messages": [AIMessage(f"The weather: {last.content}", id=f"ai-final-{len(state['messages'])}")]}
    call = {"name": "weather", "args": {"city": last.content}, "id": f"call-{len(state['messages'])}"}
    return {"messages": [AIMessage("", tool_calls=[call], id=f"ai-call-{len(state['messages'])}")]}


def tools(state: ChatState) -> dict[str, Any]:
    calls = state["messages"][-1].tool_calls
    found = [Document(page_content=f"forecast for {c['args']['city']}", metadata={"source": "wx"}) for c in calls]
    replies = [ToolMessage(f"sunny in {c['args']['city']}", tool_call_id=c["id"], id=f"tool-{c['id']}") for c in calls]
    return {"messages": replies, "docs": found}


def route(state: ChatState) -> str:
    last = state["messages"][-1]
    return "tools" if getattr(last, "tool_calls", None) else END


def build(saver: Any) -> Any:
    builder = StateGraph(ChatState)
    builder.add_node("model", model).add_node("tools", tools)
    builder.add_edge(START, "model").add_conditional_edges("model", route, ["tools", END]).add_edge("tools", "model")
    return builder.compile(checkpointer=saver)


def chat(saver: Any, thread_id: str, text: str) -> dict[str, Any]:
    """One user turn on ``thread_id``: the model calls the tool, then answers."""
    graph = build(saver)
    return graph.invoke(
        {"messages": [HumanMessage(text, id=f"human-{thread_id}")], "docs": []},
        {"configurable": {"thread_id": thread_id}, "metadata": {"user": "dana"}},
    )
