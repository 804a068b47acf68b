"""Prebuilt-agent programs written once against LangGraph's API, run with ``langgraph`` imports
and with the prefix changed to ``waypoint``: their printed output must be the same (see
test_programs.py; only uuids are normalised)."""

from __future__ import annotations

import pytest

from tests.compat.test_programs import _run

# A fake tool-calling chat model both programs share: a fixed script of answers, and
# bind_tools so the agent binds its tools and with_structured_output works through a tool call.
MODEL = '''
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.utils.function_calling import convert_to_openai_tool

class ToolCallingFake(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)
'''

REACT_AGENT = MODEL + '''
from typing import Annotated
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from pydantic import BaseModel
from LIB.checkpoint.memory import InMemorySaver
from LIB.prebuilt import InjectedState, InjectedStore, create_react_agent
from LIB.store.memory import InMemoryStore

class Forecast(BaseModel):
    city: str
    sky: str

@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return {"paris": "sunny", "oslo": "snow"}[city]

@tool
def remember(fact: str, store: Annotated[object, InjectedStore()],
             messages: Annotated[list, InjectedState("messages")]) -> str:
    """Remember a fact for later conversations."""
    store.put(("facts",), fact.split()[0], {"fact": fact, "seen_messages": len(messages)})
    return "remembered"

@tool
def recall(topic: str, store: Annotated[object, InjectedStore()]) -> str:
    """Recall a remembered fact."""
    item = store.get(("facts",), topic)
    return item.value["fact"] if item else "nothing"

model = ToolCallingFake(messages=iter([
    AIMessage("", id="ai-1", tool_calls=[
        {"name": "get_weather", "args": {"city": "paris"}, "id": "w1"},
        {"name": "get_weather", "args": {"city": "oslo"}, "id": "w2"},
        {"name": "remember", "args": {"fact": "paris is sunny today"}, "id": "m1"}]),
    AIMessage("Paris is sunny and Oslo has snow.", id="ai-2"),
    AIMessage("", id="ai-3", tool_calls=[{"name": "Forecast", "args": {"city": "paris", "sky": "sunny"}, "id": "f1"}]),
    AIMessage("", id="ai-4", tool_calls=[{"name": "recall", "args": {"topic": "paris"}, "id": "r1"}]),
    AIMessage("You told me: paris is sunny today.", id="ai-5"),
    AIMessage("", id="ai-6", tool_calls=[{"name": "Forecast", "args": {"city": "paris", "sky": "sunny"}, "id": "f2"}]),
]))
store = InMemoryStore()
agent = create_react_agent(model, [get_weather, remember, recall], prompt="You are a weather bot.",
                           checkpointer=InMemorySaver(), store=store, interrupt_before=["tools"],
                           response_format=Forecast)
print(sorted(agent.get_graph().nodes))

config = {"configurable": {"thread_id": "weather-1"}}
for chunk in agent.stream({"messages": [("user", "weather in paris and oslo?")]}, config, stream_mode="updates"):
    print("update", {k: (v if k == "__interrupt__" else [(type(m).__name__, m.content) for m in v["messages"]])
                     for k, v in chunk.items()})
snap = agent.get_state(config)
print("paused before", snap.next, [t.name for t in snap.tasks], snap.metadata["step"])
print("calls to approve", [c["name"] for c in snap.values["messages"][-1].tool_calls])
result = agent.invoke(None, config)  # approved
for m in result["messages"]:
    print(type(m).__name__, repr(m.content), getattr(m, "name", None), getattr(m, "tool_call_id", None))
print("structured", result["structured_response"])
print([(s.metadata["step"], s.next, len(s.values.get("messages", []))) for s in agent.get_state_history(config)])
print("store", store.get(("facts",), "paris").value)

other = {"configurable": {"thread_id": "weather-2"}}
agent.invoke({"messages": [("user", "what did I tell you about paris?")]}, other)
result = agent.invoke(None, other)
print([(type(m).__name__, m.content) for m in result["messages"]])
print("structured", result["structured_response"])
print(len(agent.get_state(config).values["messages"]), len(agent.get_state(other).values["messages"]))
'''

TOOL_NODE_GRAPH = MODEL + '''
import asyncio, os, tempfile
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool, InjectedToolCallId
from typing import Annotated, TypedDict
from LIB.checkpoint.sqlite.aio import AsyncSqliteSaver
from LIB.graph import START, StateGraph
from LIB.graph.message import add_messages
from LIB.prebuilt import ToolNode, tools_condition
from LIB.types import Command

class State(TypedDict):
    messages: Annotated[list, add_messages]
    user: str

@tool
async def lookup(order: int) -> str:
    """Look up an order."""
    if order < 0:
        raise ValueError("order numbers are positive")
    return f"order {order}: shipped"

@tool
def set_user(name: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
    """Record who is asking."""
    return Command(update={"user": name, "messages": [ToolMessage(f"hi {name}", tool_call_id=tool_call_id)]})

model = ToolCallingFake(messages=iter([
    AIMessage("", id="a1", tool_calls=[{"name": "set_user", "args": {"name": "ann"}, "id": "u1"},
                                        {"name": "lookup", "args": {"order": 7}, "id": "o1"},
                                        {"name": "lookup", "args": {"order": -1}, "id": "o2"},
                                        {"name": "lookup", "args": {"order": "x"}, "id": "o3"},
                                        {"name": "cancel", "args": {}, "id": "c1"}]),
    AIMessage("Order 7 has shipped, ann.", id="a2"),
])).bind_tools([lookup, set_user])

async def chatbot(state: State):
    return {"messages": [await model.ainvoke(state["messages"])]}

builder = StateGraph(State)
builder.add_node("chatbot", chatbot)
builder.add_node("tools", ToolNode([lookup, set_user], handle_tool_errors=True))
builder.add_edge(START, "chatbot")
builder.add_conditional_edges("chatbot", tools_condition)
builder.add_edge("tools", "chatbot")

async def main():
    path = os.path.join(tempfile.mkdtemp(), "agent.db")
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "orders"}}
        out = await graph.ainvoke({"messages": [("user", "where is order 7?")], "user": ""}, config)
        print("user", out["user"])
        for m in out["messages"]:
            print(type(m).__name__, repr(m.content), getattr(m, "status", None))
        history = [s async for s in graph.aget_state_history(config)]
        print([(s.metadata["step"], s.next) for s in history])

asyncio.run(main())
'''


@pytest.mark.parametrize("program", [REACT_AGENT, TOOL_NODE_GRAPH], ids=["create-react-agent", "tool-node-graph"])
def test_same_output_as_langgraph(program: str) -> None:
    theirs = _run(program, "langgraph")
    ours = _run(program, "waypoint")
    assert ours == theirs
    assert theirs.strip()
