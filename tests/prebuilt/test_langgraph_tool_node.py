"""LangGraph's own ToolNode as a node of a waypoint graph: it finds the runtime it reads from
the config (store, context, stream writer), reads the state for bare tool calls, and the
LangGraph ``Command``s its tools return become state updates. Compared with the same graph
run by LangGraph."""

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.prebuilt import InjectedState, InjectedStore, ToolNode, ToolRuntime
from langgraph.types import Command as LGCommand

from tests.prebuilt._libs import lib, show
from tests.prebuilt._models import ScriptedChatModel, ai, call
from waypoint.graph.message import add_messages


class State(TypedDict):
    messages: Annotated[list, add_messages]
    user: str


@dataclass
class Ctx:
    team: str


@tool
def note(text: str, store: Annotated[Any, InjectedStore()], user: Annotated[str, InjectedState("user")]) -> str:
    """Write a note."""
    store.put(("notes", user), "last", {"text": text})
    return f"noted for {user}"


@tool
def login(name: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Any:
    """Log in."""
    return LGCommand(update={"user": name, "messages": [ToolMessage(f"hi {name}", tool_call_id=tool_call_id)]})


@tool("team")
async def ateam(runtime: ToolRuntime) -> str:
    """The caller's team."""
    runtime.stream_writer({"team": runtime.context.team})
    return f"{runtime.context.team} ({len(runtime.state['messages'])} messages)"


@tool("team")
def team(runtime: ToolRuntime) -> str:
    """The caller's team."""
    runtime.stream_writer({"team": runtime.context.team})
    return f"{runtime.context.team} ({len(runtime.state['messages'])} messages)"


def run(L: Any, mode: str) -> Any:
    store = L.InMemoryStore()
    graph = (L.StateGraph(State, context_schema=Ctx).add_node("tools", ToolNode([note, login, team if mode == "sync" else ateam]))
             .add_edge(L.START, "tools").compile(store=store))
    inp = {"user": "bo", "messages": [HumanMessage("hi"), ai("", call("note", {"text": "milk"}, "n1"),
                                                              call("login", {"name": "ann"}, "l1"),
                                                              call("team", {}, "t1"), id="a1")]}
    if mode == "sync":
        chunks = list(graph.stream(inp, context=Ctx("blue"), stream_mode=["updates", "custom"]))
    else:
        async def go() -> Any:
            return [c async for c in graph.astream(inp, context=Ctx("blue"), stream_mode=["updates", "custom"])]

        chunks = asyncio.run(go())
    return sorted(map(repr, show(chunks))), store.get(("notes", "bo"), "last").value


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_langgraph_tool_node_in_a_waypoint_graph(mode: str) -> None:
    assert run(lib("waypoint"), mode) == run(lib("langgraph"), mode)


def test_langgraph_tool_node_in_waypoint_react_agent_with_interrupt() -> None:
    from waypoint.checkpoint.memory import InMemorySaver
    from waypoint.prebuilt import create_react_agent
    from waypoint.types import Command, interrupt

    @tool
    def ship(order: int) -> str:
        """Ship an order after a human agrees."""
        return f"order {order}: {interrupt(f'ship {order}?')}"

    model = ScriptedChatModel(script=[ai("", call("ship", {"order": 7}, "s1"), id="a1"), ai("Shipped.", id="a2")])
    agent = create_react_agent(model, ToolNode([ship]), checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": "t"}}
    out = agent.invoke({"messages": [("user", "ship 7")]}, cfg)
    assert [i.value for i in out["__interrupt__"]] == ["ship 7?"]
    out = agent.invoke(Command(resume="yes"), cfg)
    assert [m.content for m in out["messages"][2:]] == ["order 7: yes", "Shipped."]
    assert isinstance(out["messages"][1], AIMessage)


@pytest.mark.parametrize("handle", [True, False])
def test_waypoint_interrupts_pass_langgraph_error_handling(handle: bool) -> None:
    # handle_tool_errors=True answers every exception except LangGraph's GraphBubbleUp:
    # waypoint's interrupts are made to count as one, so they still pause the graph
    from waypoint.checkpoint.memory import InMemorySaver
    from waypoint.graph import START, MessagesState, StateGraph
    from waypoint.types import Command, interrupt

    @tool
    def ask(question: str) -> str:
        """Ask a human."""
        return f"answer: {interrupt(question)}"

    graph = (StateGraph(MessagesState).add_node("tools", ToolNode([ask], handle_tool_errors=handle))
             .add_edge(START, "tools").compile(checkpointer=InMemorySaver()))
    cfg = {"configurable": {"thread_id": "t"}}
    out = graph.invoke({"messages": [ai("", call("ask", {"question": "ok?"}, "c1"), id="a1")]}, cfg)
    assert [i.value for i in out["__interrupt__"]] == ["ok?"]
    assert graph.invoke(Command(resume="yes"), cfg)["messages"][-1].content == "answer: yes"


def test_waypoint_tool_node_in_a_langgraph_graph() -> None:
    # the other way round: under LangGraph's engine waypoint's ToolNode reads LangGraph's
    # runtime (store, context) from the config
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.store.memory import InMemoryStore

    from waypoint.prebuilt import InjectedStore as WpInjectedStore
    from waypoint.prebuilt import ToolNode as WpToolNode
    from waypoint.prebuilt import ToolRuntime as WpToolRuntime

    @tool
    def save(text: str, store: Annotated[Any, WpInjectedStore()], runtime: WpToolRuntime) -> str:
        """Save a text."""
        store.put(("texts",), runtime.tool_call_id, {"text": text, "user": runtime.context["user"]})
        return "saved"

    store = InMemoryStore()
    graph = StateGraph(MessagesState).add_node("tools", WpToolNode([save])).add_edge(START, "tools").compile(store=store)
    out = graph.invoke({"messages": [ai("", call("save", {"text": "hi"}, "s1"), id="a1")]}, context={"user": "ann"})
    assert out["messages"][-1].content == "saved"
    assert store.get(("texts",), "s1").value == {"text": "hi", "user": "ann"}
