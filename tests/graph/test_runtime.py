"""Runtime context: ``context_schema``, ``invoke(..., context=)``, the ``runtime`` parameter and
``get_runtime()``, compared with LangGraph where it has the same feature."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypedDict

import pytest
from pydantic import BaseModel

from waypoint.checkpoint.memory import InMemorySaver
from waypoint.errors import ConfigError
from waypoint.graph import START, StateGraph
from waypoint.runtime import ExecutionInfo, Runtime, get_runtime
from waypoint.store.memory import InMemoryStore
from waypoint.types import RetryPolicy


@dataclass
class Ctx:
    user: str
    lang: str = "en"


class PCtx(BaseModel):
    user: str


class S(TypedDict, total=False):
    out: str
    seen: list


def _graph(lib: str, node: Any, schema: Any = Ctx, **compile_kw: Any) -> Any:
    graph_mod = __import__(f"{lib}.graph", fromlist=["StateGraph"])
    builder = graph_mod.StateGraph(S, context_schema=schema)
    builder.add_node("node", node).add_edge(graph_mod.START, "node")
    return builder.compile(**compile_kw)


def test_runtime_parameter_receives_context_store_and_execution_info_as_in_langgraph() -> None:
    def node(state: S, runtime: Runtime[Ctx]) -> dict:
        info = runtime.execution_info
        found = runtime.store.get(("users",), runtime.context.user)
        return {"out": f"{runtime.context.user}/{runtime.context.lang}/{found.value['name']}",
                "seen": [type(runtime).__name__, runtime.previous, info.thread_id,
                         info.checkpoint_ns.split(":")[0], info.node_attempt,
                         info.checkpoint_ns.endswith(info.task_id), runtime.server_info]}

    results = []
    for lib in ("langgraph", "waypoint"):
        store = __import__(f"{lib}.store.memory", fromlist=["InMemoryStore"]).InMemoryStore()
        store.put(("users",), "ann", {"name": "Ann"})
        saver = __import__(f"{lib}.checkpoint.memory", fromlist=["InMemorySaver"]).InMemorySaver()
        graph = _graph(lib, node, checkpointer=saver, store=store)
        config = {"configurable": {"thread_id": "t"}}
        results.append(graph.invoke({}, config, context={"user": "ann"}))  # a dict becomes Ctx
    assert results[0] == results[1]
    assert results[1]["out"] == "ann/en/Ann"
    assert results[1]["seen"] == ["Runtime", None, "t", "node", 1, True, None]


def test_get_runtime_and_no_context() -> None:
    def node(state: S) -> dict:
        rt = get_runtime(Ctx)
        return {"out": repr(rt.context)}

    assert _graph("waypoint", node).invoke({}) == {"out": "None"}
    assert _graph("waypoint", node).invoke({}, context=Ctx("bo")) == {"out": "Ctx(user='bo', lang='en')"}
    with pytest.raises(RuntimeError, match="outside"):
        get_runtime()


def test_pydantic_context_schema_and_bad_context() -> None:
    def node(state: S, runtime: Runtime[PCtx]) -> dict:
        return {"out": type(runtime.context).__name__ + ":" + runtime.context.user}

    graph = _graph("waypoint", node, schema=PCtx)
    assert graph.invoke({}, context={"user": "cy"}) == {"out": "PCtx:cy"}
    with pytest.raises(ConfigError, match="context_schema"):
        graph.invoke({}, context={"nope": 1})


def test_subgraphs_see_the_parent_context() -> None:
    def inner(state: S, runtime: Runtime[Ctx]) -> dict:
        return {"out": "inner sees " + runtime.context.user}

    sub = StateGraph(S, context_schema=Ctx).add_node("inner", inner).add_edge(START, "inner").compile()

    def calls(state: S, config: Any) -> dict:
        return sub.invoke(state, config)

    parent = StateGraph(S, context_schema=Ctx)
    parent.add_node("direct", sub).add_node("calls", calls)
    parent.add_edge(START, "direct").add_edge("direct", "calls")
    assert parent.compile().invoke({}, context=Ctx("dee")) == {"out": "inner sees dee"}
    events = list(parent.compile().stream({}, context=Ctx("eve"), stream_mode="updates"))
    assert events[-1] == {"calls": {"out": "inner sees eve"}}


def test_retries_count_attempts_and_stream_writer_is_the_custom_stream() -> None:
    attempts = []

    def flaky(state: S, runtime: Runtime[Ctx]) -> dict:
        attempts.append(runtime.execution_info.node_attempt)
        runtime.stream_writer({"attempt": runtime.execution_info.node_attempt})
        if len(attempts) < 3:
            raise ValueError("again")
        return {"out": "ok"}

    builder = StateGraph(S, context_schema=Ctx)
    builder.add_node("flaky", flaky, retry_policy=RetryPolicy(initial_interval=0.001, jitter=False, retry_on=ValueError))
    builder.add_edge(START, "flaky")
    chunks = list(builder.compile().stream({}, stream_mode="custom", context=Ctx("x")))
    assert attempts == [1, 2, 3]
    assert chunks == [{"attempt": 1}, {"attempt": 2}, {"attempt": 3}]


def test_async_nodes_and_async_faces_take_context() -> None:
    async def node(state: S, *, runtime: Runtime[Ctx], store: Any, previous: Any) -> dict:
        return {"out": f"{runtime.context.user} {store is runtime.store} {previous}"}

    graph = _graph("waypoint", node, store=InMemoryStore())

    async def main() -> tuple[Any, Any]:
        out = await graph.ainvoke({}, context=Ctx("al"))
        chunks = [c async for c in graph.astream({}, context={"user": "bo"}, stream_mode="values")]
        return out, chunks[-1]

    assert asyncio.run(main()) == ({"out": "al True None"}, {"out": "bo True None"})


def test_run_options_waypoint_lacks_are_errors_not_ignored() -> None:
    graph = _graph("waypoint", lambda s: {"out": "x"})
    with pytest.raises(TypeError, match="output_keys"):
        graph.invoke({}, output_keys=["out"])
    with pytest.raises(ValueError, match="control= must be a waypoint.runtime.RunControl"):
        list(graph.stream({}, control=object()))  # supported now (RunControl), checked


def test_execution_info_patch_and_runtime_override() -> None:
    info = ExecutionInfo(checkpoint_id="c", checkpoint_ns="", task_id="t")
    rt = Runtime(context=Ctx("a"), execution_info=info)
    assert rt.patch_execution_info(node_attempt=2).execution_info.node_attempt == 2
    assert rt.override(context=Ctx("b")).context.user == "b"
    assert Runtime(store=None).merge(rt).context.user == "a"
    with pytest.raises(RuntimeError, match="execution_info"):
        Runtime().patch_execution_info(node_attempt=2)


def test_checkpointed_runs_keep_context_out_of_the_state() -> None:
    def node(state: S, runtime: Runtime[Ctx]) -> dict:
        return {"out": runtime.context.user}

    saver = InMemorySaver()
    graph = _graph("waypoint", node, checkpointer=saver)
    config = {"configurable": {"thread_id": "k"}}
    graph.invoke({}, config, context=Ctx("kim"))
    snap = graph.get_state(config)
    assert snap.values == {"out": "kim"}
    assert "__wp_context" not in snap.config["configurable"]
