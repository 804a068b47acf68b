"""Realistic LangGraph programs, written once against LangGraph's API, run once with
``langgraph`` imports and once with the prefix changed to ``waypoint``: their printed output
must be the same. Only random values (uuids, timestamps) are normalised."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CHECKPOINT_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")

CHATBOT = '''
from langchain_core.messages import AIMessage
from LIB.checkpoint.memory import InMemorySaver
from LIB.graph import END, START, MessagesState, StateGraph

def bot(state: MessagesState):
    last = state["messages"][-1]
    return {"messages": [AIMessage(content=f"you said {last.content!r} ({len(state['messages'])} so far)")]}

graph = StateGraph(MessagesState).add_node("bot", bot).add_edge(START, "bot").add_edge("bot", END)
app = graph.compile(checkpointer=InMemorySaver())
config = {"configurable": {"thread_id": "chat-1"}}
for text in ["hi", "how are you", "bye"]:
    out = app.invoke({"messages": [("user", text)]}, config)
    print(type(out["messages"][-1]).__name__, out["messages"][-1].content)
history = list(app.get_state_history(config))
print([(s.metadata["source"], s.metadata["step"], s.next, len(s.values.get("messages", []))) for s in history])
# time travel: replay from after the first turn with a different question
first_turn = next(s for s in history if s.metadata["step"] == 1)
fork = app.update_state(first_turn.config, {"messages": [("user", "actually, hello")]})
out = app.invoke(None, fork)
print([m.content for m in out["messages"]])
print(len(list(app.get_state_history(config))), app.get_state(config).next)
'''

REACT = '''
import json
from typing import Literal
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from LIB.checkpoint.memory import InMemorySaver
from LIB.graph import END, START, MessagesState, StateGraph

def get_weather(city: str) -> str:
    return {"paris": "sunny", "oslo": "snow"}[city]

TOOLS = {"get_weather": get_weather}
model = GenericFakeChatModel(messages=iter([
    AIMessage(content="", id="ai-1", tool_calls=[{"name": "get_weather", "args": {"city": "paris"}, "id": "call-1"},
                                                {"name": "get_weather", "args": {"city": "oslo"}, "id": "call-2"}]),
    AIMessage(content="Paris is sunny, Oslo has snow.", id="ai-2"),
]))

def agent(state: MessagesState):
    return {"messages": [model.invoke(state["messages"])]}

def tools(state: MessagesState):
    calls = state["messages"][-1].tool_calls
    return {"messages": [ToolMessage(content=TOOLS[c["name"]](**c["args"]), tool_call_id=c["id"], id=f"tool-{c['id']}") for c in calls]}

def route(state: MessagesState) -> Literal["tools", "__end__"]:
    return "tools" if state["messages"][-1].tool_calls else END

builder = StateGraph(MessagesState)
builder.add_node("agent", agent).add_node("tools", tools)
builder.add_edge(START, "agent").add_conditional_edges("agent", route).add_edge("tools", "agent")
app = builder.compile(checkpointer=InMemorySaver())
config = {"configurable": {"thread_id": "react"}}
for update in app.stream({"messages": [("user", "weather in paris and oslo?")]}, config, stream_mode="updates"):
    for node, value in update.items():
        for m in value["messages"]:
            print(node, type(m).__name__, repr(m.content), getattr(m, "tool_calls", None) or "")
final = app.get_state(config)
print(len(final.values["messages"]), final.next, final.metadata["step"])
'''

HITL = '''
from typing import TypedDict
from LIB.checkpoint.memory import InMemorySaver
from LIB.graph import END, START, StateGraph

class State(TypedDict):
    draft: str
    approved: bool

def write(state: State):
    return {"draft": f"Dear customer, {state['draft']}"}

def send(state: State):
    return {"approved": True, "draft": state["draft"] + " -- sent"}

builder = StateGraph(State).add_node("write", write).add_node("send", send)
builder.add_edge(START, "write").add_edge("write", "send").add_edge("send", END)
app = builder.compile(checkpointer=InMemorySaver(), interrupt_before=["send"])
config = {"configurable": {"thread_id": "hitl"}}
for chunk in app.stream({"draft": "thanks", "approved": False}, config, stream_mode="updates"):
    print("update", chunk)
snap = app.get_state(config)
print("paused before", snap.next, snap.values)
new_config = app.update_state(config, {"draft": "Dear customer, thank you very much"})
print("edited", app.get_state(new_config).values, app.get_state(config).metadata["source"])
for chunk in app.stream(None, config, stream_mode="values"):
    print("value", chunk)
print([(s.metadata["source"], s.metadata["step"], s.next) for s in app.get_state_history(config)])
'''

CONTEXT_STORE = '''
from dataclasses import dataclass
from typing import TypedDict
from LIB.graph import START, StateGraph
from LIB.runtime import Runtime
from LIB.store.memory import InMemoryStore

@dataclass
class Context:
    user_id: str
    greeting: str = "Hello"

class State(TypedDict, total=False):
    visits: int
    reply: str

def remember(state: State, runtime: Runtime[Context]):
    ns = ("visits", runtime.context.user_id)
    item = runtime.store.get(ns, "count")
    count = (item.value["n"] if item else 0) + 1
    runtime.store.put(ns, "count", {"n": count})
    return {"visits": count}

def greet(state: State, runtime: Runtime[Context]):
    runtime.stream_writer({"greeting_for": runtime.context.user_id})
    return {"reply": f"{runtime.context.greeting} {runtime.context.user_id}, visit #{state['visits']}"}

store = InMemoryStore()
builder = StateGraph(State, context_schema=Context)
builder.add_node("remember", remember).add_node("greet", greet)
builder.add_edge(START, "remember").add_edge("remember", "greet")
app = builder.compile(store=store)
print(app.invoke({}, context=Context(user_id="ann")))
print(app.invoke({}, context={"user_id": "ann", "greeting": "Welcome back"}))
print(list(app.stream({}, context=Context(user_id="bo"), stream_mode=["custom", "updates"])))
print(sorted((i.namespace, i.value["n"]) for i in store.search(("visits",))))
'''


def _run(program: str, lib: str) -> str:
    code = textwrap.dedent(program).replace("LIB", lib)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{lib} failed:\n{done.stderr}"
    return UUID.sub("<uuid>", done.stdout)


@pytest.mark.parametrize("program", [CHATBOT, REACT, HITL, CONTEXT_STORE],
                         ids=["chatbot-time-travel", "react-tools", "hitl-interrupt-before", "runtime-context-store"])
def test_same_output_as_langgraph(program: str) -> None:
    theirs = _run(program, "langgraph")
    ours = _run(program, "waypoint")
    assert ours == theirs
    assert theirs.strip()  # the program printed something
