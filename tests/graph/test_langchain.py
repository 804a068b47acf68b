"""LangChain at the edges: Runnables as nodes, a compiled graph as a Runnable, token streaming
with ``stream_mode="messages"`` and callback tracing — each compared with LangGraph running
the same program."""

from __future__ import annotations

import asyncio
import importlib
import re
from typing import Any, TypedDict

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

LIBS = ("langgraph", "waypoint")


def lib(name: str, module: str) -> Any:
    return importlib.import_module(f"{name}.{module}")


class S(TypedDict):
    n: int


def _scrub(text: str) -> str:
    """Task ids are random per library: keep their shape only."""
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)


def _counter(name: str) -> Any:
    g = lib(name, "graph")

    async def add_async(s: S) -> dict:
        return {"n": s["n"] + 100}

    builder = g.StateGraph(S)
    builder.add_node("double", RunnableLambda(lambda s: {"n": s["n"] * 2}, name="doubler"))
    builder.add_node("plus", RunnableLambda(lambda s: {"n": s["n"] + 1}, afunc=add_async))
    builder.add_edge(g.START, "double").add_edge("double", "plus")
    return builder.compile()


def test_runnables_are_nodes_sync_and_async() -> None:
    for name in LIBS:
        graph = _counter(name)
        assert graph.invoke({"n": 3}) == {"n": 7}
        assert asyncio.run(graph.ainvoke({"n": 3})) == {"n": 106}  # the Runnable's async face
    assert list(_counter("waypoint").builder.nodes) == ["double", "plus"]
    g = lib("waypoint", "graph")
    named = g.StateGraph(S).add_node(RunnableLambda(lambda s: s, name="echo"))
    assert list(named.nodes) == ["echo"]


def test_a_compiled_graph_is_a_runnable() -> None:
    graph = _counter("waypoint")
    assert isinstance(graph, Runnable)
    chain = RunnableLambda(lambda x: {"n": x}) | graph | RunnableLambda(lambda s: s["n"])
    assert chain.invoke(5) == 11
    assert asyncio.run(chain.ainvoke(5)) == 110
    assert graph.batch([{"n": 1}, {"n": 2}]) == [{"n": 3}, {"n": 5}]
    assert asyncio.run(graph.abatch([{"n": 1}, {"n": 2}])) == [{"n": 102}, {"n": 104}]
    assert graph.with_config(recursion_limit=5).invoke({"n": 0}) == {"n": 1}
    assert "double" in graph.get_graph().draw_mermaid()
    assert graph.get_name() == "LangGraph"
    retried = graph.with_retry(stop_after_attempt=2)
    assert retried.invoke({"n": 1}) == {"n": 3}
    with pytest.raises(AttributeError, match="no_such_thing"):
        graph.no_such_thing  # noqa: B018


def test_astream_events_v2_matches_langgraph() -> None:
    async def events(name: str) -> list[tuple[str, str]]:
        graph = _counter(name)
        out = []
        async for ev in graph.astream_events({"n": 1}, version="v2"):
            if ev["event"] in ("on_chain_start", "on_chain_end"):
                out.append((ev["event"], ev["name"]))
        return out

    ours, theirs = asyncio.run(events("waypoint")), asyncio.run(events("langgraph"))
    assert ours == theirs
    assert ours[0] == ("on_chain_start", "LangGraph") and ours[-1] == ("on_chain_end", "LangGraph")


def _chat_program(name: str, *, with_config: bool) -> Any:
    g = lib(name, "graph")
    model = GenericFakeChatModel(messages=iter([AIMessage(content="hello there friend", id="ai-1")]))

    def chat(state: Any, config: RunnableConfig) -> dict:
        reply = model.invoke(state["messages"], config) if with_config else model.invoke(state["messages"])
        return {"messages": [reply]}

    saver = lib(name, "checkpoint.memory").InMemorySaver()
    return g.StateGraph(g.MessagesState).add_node("chat", chat).add_edge(g.START, "chat").compile(checkpointer=saver)


@pytest.mark.parametrize("with_config", [False, True])
def test_messages_mode_streams_tokens_as_langgraph(with_config: bool) -> None:
    outputs = []
    for name in LIBS:
        graph = _chat_program(name, with_config=with_config)
        config = {"configurable": {"thread_id": "t1"}, "metadata": {"k": 1}}
        chunks = list(graph.stream({"messages": [("user", "hi")]}, config, stream_mode="messages"))
        outputs.append(_scrub(repr([(type(m).__name__, m.content, m.id, sorted(meta.items())) for m, meta in chunks])))
    assert outputs[0] == outputs[1]
    assert "AIMessageChunk', 'hello'" in outputs[1] and "'thread_id', 't1'" in outputs[1]


def test_async_messages_mode_streams_tokens_as_langgraph() -> None:
    async def run(name: str) -> str:
        graph = _chat_program(name, with_config=False)
        config = {"configurable": {"thread_id": "t1"}}
        chunks = [c async for c in graph.astream({"messages": "hi"}, config, stream_mode=["messages", "updates"])]
        return _scrub(repr([(mode, type(c[0]).__name__ if mode == "messages" else c) for mode, c in chunks]))

    assert asyncio.run(run("waypoint")) == asyncio.run(run("langgraph"))


class Recorder(BaseCallbackHandler):
    """Records chain runs: (event, name, parent name, tags, langgraph metadata)."""

    def __init__(self) -> None:
        self.names: dict[Any, str] = {}
        self.log: list[tuple[Any, ...]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any, parent_run_id: Any = None,
                       tags: Any = None, metadata: Any = None, **kw: Any) -> None:
        self.names[run_id] = kw.get("name")
        meta = {k: v for k, v in (metadata or {}).items() if k not in ("langgraph_checkpoint_ns", "checkpoint_ns")}
        self.log.append(("start", kw.get("name"), self.names.get(parent_run_id),
                         sorted(t for t in tags or [] if not t.startswith("seq:")), meta, inputs))

    def on_chain_end(self, outputs: Any, *, run_id: Any, **kw: Any) -> None:
        self.log.append(("end", self.names[run_id], outputs))

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any,
                            parent_run_id: Any = None, **kw: Any) -> None:
        self.names[run_id] = "chat_model"
        self.log.append(("chat_model", self.names.get(parent_run_id)))


def test_callbacks_trace_nodes_as_child_runs_as_langgraph() -> None:
    logs = []
    for name in LIBS:
        rec = Recorder()
        graph = _counter(name)
        assert graph.invoke({"n": 0}, {"callbacks": [rec], "tags": ["t1"], "metadata": {"user": "u"}}) == {"n": 1}
        logs.append(rec.log)
    assert logs[0] == logs[1]
    assert [e[1] for e in logs[1] if e[0] == "start"] == ["LangGraph", "double", "doubler", "plus", "RunnableLambda"]
    rec = Recorder()
    graph = _chat_program("waypoint", with_config=False)
    graph.invoke({"messages": "hi"}, {"configurable": {"thread_id": "x"}, "callbacks": [rec]})
    assert ("chat_model", "chat") in rec.log  # a model called without config is a child run


def test_graph_inside_a_langchain_run_is_its_child() -> None:
    for name in LIBS:
        rec = Recorder()
        graph = _counter(name)
        outer = RunnableLambda(lambda x, config=None: graph.invoke({"n": x}), name="outer")
        outer.invoke(1, {"callbacks": [rec]})
        starts = [(e[1], e[2]) for e in rec.log if e[0] == "start"]
        assert starts[:2] == [("outer", None), ("LangGraph", "outer")], name


def test_runs_without_callbacks_do_no_callback_work(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_core.callbacks import manager

    def refuse(*a: Any, **k: Any) -> Any:
        raise AssertionError("callback manager configured for a run without callbacks")

    g = lib("waypoint", "graph")
    graph = g.StateGraph(S).add_node("inc", lambda s: {"n": s["n"] + 1}).add_edge(g.START, "inc").compile()
    monkeypatch.setattr(manager.CallbackManager, "configure", classmethod(refuse))
    assert graph.invoke({"n": 1}) == {"n": 2}
    assert list(graph.stream({"n": 1}, stream_mode=["updates", "custom"])) == [("updates", {"inc": {"n": 2}})]
