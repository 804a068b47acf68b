"""Graphs run on LangGraph's own savers to make real LangGraph databases, and their waypoint
twins that resume the imported threads (same node names, same state schema)."""

from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import add_messages as lg_add_messages
from pydantic import BaseModel

from waypoint.graph import add_messages as wp_add_messages


class Note(BaseModel):
    title: str
    tags: list[str] = []


class LgState(BaseModel):
    messages: Annotated[list[AnyMessage], lg_add_messages] = []
    note: Note | None = None
    approved: str = ""


class WpState(BaseModel):
    messages: Annotated[list[AnyMessage], wp_add_messages] = []
    note: Note | None = None
    approved: str = ""


def build(lib: str, checkpointer: Any) -> Any:
    """chat -> review (interrupts for approval) -> end; state is a pydantic model."""
    if lib == "langgraph":
        from langgraph.graph import END, START, StateGraph
        from langgraph.types import interrupt
    else:
        from waypoint.graph import END, START, StateGraph
        from waypoint.types import interrupt

    State = LgState if lib == "langgraph" else WpState

    def chat(state: Any) -> dict:
        last = state.messages[-1].content
        return {"messages": [AIMessage(content=f"echo: {last}")], "note": Note(title=last, tags=["x"])}

    def review(state: Any) -> dict:
        return {"approved": interrupt({"approve": state.note.title if state.note else None})}

    builder = StateGraph(State)
    builder.add_node("chat", chat)
    builder.add_node("review", review)
    builder.add_edge(START, "chat")
    builder.add_edge("chat", "review")
    builder.add_edge("review", END)
    return builder.compile(checkpointer=checkpointer)


def populate(graph: Any) -> None:
    """Three threads: finished, interrupted, and one forked from an earlier checkpoint."""
    from langgraph.types import Command

    done = {"configurable": {"thread_id": "done"}}
    graph.invoke({"messages": [HumanMessage(content="first")]}, done)
    graph.invoke(Command(resume="yes"), done)
    graph.invoke({"messages": [HumanMessage(content="second")]}, done)
    graph.invoke(Command(resume="ok"), done)
    waiting = {"configurable": {"thread_id": "waiting"}}
    graph.invoke({"messages": [HumanMessage(content="please review")]}, waiting)
    forked = {"configurable": {"thread_id": "forked"}}
    graph.invoke({"messages": [HumanMessage(content="a")]}, forked)
    graph.invoke(Command(resume="first answer"), forked)
    past = [s for s in graph.get_state_history(forked) if s.next == ("review",)][0]
    graph.invoke(Command(resume="second answer"), past.config)


def embed(texts: list[str]) -> list[list[float]]:
    """A deterministic 8-dimension embedding (both sides of a comparison use it)."""
    import hashlib

    return [[b / 255 for b in hashlib.sha256(t.encode()).digest()[:8]] for t in texts]


INDEX = {"dims": 8, "embed": embed, "fields": ["text", "tags[*]"]}
QUERIES = ("coffee in the morning", "blue", "tea")


def populate_store(store: Any) -> None:
    """Store items as a LangGraph app writes them: indexed by default fields, one not indexed,
    one with its own fields, one updated later, one with a TTL, one already expired."""
    import time

    store.put(("users", "u1", "memories"), "m1", {"text": "likes coffee in the morning", "tags": ["coffee", "morning"]})
    store.put(("users", "u1", "memories"), "m2", {"text": "dislikes tea", "tags": []})
    store.put(("users", "u2", "memories"), "m1", {"text": "favourite colour is blue", "tags": ["blue"]})
    store.put(("users", "u2", "profile"), "p", {"name": "Ada", "text": "not embedded"}, index=False)
    store.put(("docs",), "d1", {"title": "handbook", "body": {"summary": "vacation policy"}}, index=["title"])
    store.put(("users", "u1", "memories"), "m3", {"text": "short-lived note", "tags": ["ttl"]}, ttl=90)
    store.put(("users", "u3",), "gone", {"text": "expires at once"}, ttl=0.0005)
    time.sleep(1.1)  # created_at and updated_at differ (SQLite keeps seconds)
    store.put(("users", "u1", "memories"), "m2", {"text": "now likes green tea", "tags": ["tea", "green"]})
