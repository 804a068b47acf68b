"""``add_node(timeout=..., error_handler=...)`` and ``StateGraph.set_node_defaults``, side by
side with LangGraph 1.2."""

import asyncio
import operator
from collections import Counter
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import pytest

import langgraph.checkpoint.memory as lg_memory
import langgraph.errors as lg_errors
import langgraph.graph as lg_graph
import langgraph.runtime as lg_runtime
import langgraph.types as lg_types

import waypoint.checkpoint.memory as wp_memory
import waypoint.errors as wp_errors
import waypoint.graph as wp_graph
import waypoint.runtime as wp_runtime
import waypoint.types as wp_types
from waypoint.errors import InvalidGraphError

from tests.hitl.conftest import LOOP, Face, config, face, saver  # noqa: F401  (fixtures)

WP = SimpleNamespace(graph=wp_graph, types=wp_types, errors=wp_errors, runtime=wp_runtime, memory=wp_memory)
LG = SimpleNamespace(graph=lg_graph, types=lg_types, errors=lg_errors, runtime=lg_runtime, memory=lg_memory)
BOTH = pytest.mark.parametrize("lib", [WP, LG], ids=["waypoint", "langgraph"])


class S(TypedDict):
    log: Annotated[list, operator.add]


async def stuck(s: S) -> dict:
    await asyncio.Event().wait()  # never finishes by itself
    return {}


# --- timeouts ------------------------------------------------------------------------------


@BOTH
def test_run_timeout_cancels_the_attempt(lib: Any) -> None:
    graph = lib.graph.StateGraph(S).add_node("stuck", stuck, timeout=0.05)
    graph = graph.add_edge(lib.graph.START, "stuck").compile()
    with pytest.raises(lib.errors.NodeTimeoutError) as info:
        asyncio.run(graph.ainvoke({"log": []}))
    err = info.value
    assert (err.node, err.kind, err.run_timeout, err.idle_timeout) == ("stuck", "run", 0.05, None)
    assert not isinstance(err, TimeoutError)


@BOTH
def test_idle_timeout_is_retried_by_a_matching_retry_policy(lib: Any) -> None:
    attempts: Counter = Counter()

    async def node(s: S) -> dict:
        attempts["n"] += 1
        await asyncio.Event().wait()
        return {}

    retry = lib.types.RetryPolicy(max_attempts=3, initial_interval=0.01, retry_on=lib.errors.NodeTimeoutError)
    b = lib.graph.StateGraph(S).add_node(
        "n", node, timeout=lib.types.TimeoutPolicy(idle_timeout=0.05), retry_policy=retry
    )
    graph = b.add_edge(lib.graph.START, "n").compile()
    with pytest.raises(lib.errors.NodeTimeoutError, match="idle"):
        asyncio.run(graph.ainvoke({"log": []}))
    assert attempts["n"] == 3


@BOTH
def test_heartbeats_keep_an_idle_timeout_from_firing(lib: Any) -> None:
    async def beats(s: S, runtime: lib.runtime.Runtime) -> dict:
        for _ in range(12):  # 0.6 s of work in total, never 0.5 s without a heartbeat
            await asyncio.sleep(0.05)
            runtime.heartbeat()
        return {"log": ["done"]}

    policy = lib.types.TimeoutPolicy(idle_timeout=0.5, refresh_on="heartbeat")
    graph = lib.graph.StateGraph(S).add_node("beats", beats, timeout=policy)
    graph = graph.add_edge(lib.graph.START, "beats").compile()
    assert asyncio.run(graph.ainvoke({"log": []})) == {"log": ["done"]}


def test_custom_stream_writes_are_progress_under_auto() -> None:
    async def chatty(s: S, runtime: wp_runtime.Runtime) -> dict:
        for i in range(12):
            await asyncio.sleep(0.05)
            runtime.stream_writer({"i": i})
        return {"log": ["done"]}

    graph = wp_graph.StateGraph(S).add_node("chatty", chatty, timeout=wp_types.TimeoutPolicy(idle_timeout=0.5))
    graph = graph.add_edge(wp_graph.START, "chatty").compile()

    async def run() -> list[Any]:
        return [c async for c in graph.astream({"log": []}, stream_mode="custom")]

    assert len(asyncio.run(run())) == 12


def test_timeout_values_and_sync_nodes() -> None:
    coerce = wp_types.TimeoutPolicy.coerce
    assert coerce(2) == wp_types.TimeoutPolicy(run_timeout=2.0)
    assert coerce(wp_types.TimeoutPolicy()) is None and coerce(None) is None
    for bad in (0, -1, wp_types.TimeoutPolicy(refresh_on="x"), "3"):  # type: ignore[arg-type]
        with pytest.raises(InvalidGraphError, match="timeout"):
            wp_graph.StateGraph(S).add_node("n", stuck, timeout=bad)
    for lib in (WP, LG):  # a sync node cannot be cancelled: both refuse it at compile time
        b = lib.graph.StateGraph(S).add_node("n", lambda s: {}, timeout=1).add_edge(lib.graph.START, "n")
        with pytest.raises(ValueError, match="sync"):
            b.compile()


# --- error handlers ------------------------------------------------------------------------


def handled_graph(lib: Any, checkpointer: Any = None) -> Any:
    def a(s: S) -> dict:
        raise ValueError("bad a")

    def b(s: S) -> dict:
        return {"log": ["b"]}

    def c(s: S) -> dict:
        return {"log": ["c"]}

    def handler(s: S, error: lib.errors.NodeError) -> Any:
        return lib.types.Command(update={"log": [f"handled {error.node}: {error.error}"]}, goto="c")

    g = lib.graph.StateGraph(S).add_node("a", a, error_handler=handler).add_node("b", b).add_node("c", c)
    g.add_edge(lib.graph.START, "a").add_edge(lib.graph.START, "b").add_edge("a", "b")
    return g.compile(checkpointer=checkpointer)


def test_error_handler_replaces_the_failed_nodes_writes_as_langgraph() -> None:
    def run(lib: Any) -> Any:
        graph = handled_graph(lib, lib.memory.InMemorySaver())
        cfg = {"configurable": {"thread_id": "1"}}
        ups = [c for c in graph.stream({"log": []}, cfg, stream_mode="updates")]
        hist = [(s.metadata["step"], s.next, [(t.name, t.error) for t in s.tasks])
                for s in graph.get_state_history(cfg)]
        # the handler's and b's updates come in the order they finish: compare step 0 as a set
        ups = (sorted(ups[:2], key=repr), ups[2:])
        return ups, graph.get_state(cfg).values, hist, list(graph.nodes)

    wp = run(WP)
    assert wp == run(LG)
    assert wp[1] == {"log": ["handled a: bad a", "b", "c"]}
    assert wp[3] == ["__start__", "__error_handler__a", "a", "b", "c"]


def test_error_handler_runs_after_retries_and_its_own_failure_fails_the_run() -> None:
    def run(lib: Any) -> Any:
        calls: Counter = Counter()

        def flaky(s: S) -> dict:
            calls["flaky"] += 1
            raise ConnectionError("down")

        def plain(s: S) -> dict:  # a handler may return a plain update (no goto)
            return {"log": ["fallback"]}

        def broken(s: S) -> dict:
            raise KeyError("handler broke")

        retry = lib.types.RetryPolicy(max_attempts=2, initial_interval=0.01)
        g = lib.graph.StateGraph(S).add_node("f", flaky, error_handler=plain, retry_policy=retry)
        g.add_node("after", lambda s: {"log": ["after"]}).add_edge(lib.graph.START, "f").add_edge("f", "after")
        out = g.compile().invoke({"log": []})
        g2 = lib.graph.StateGraph(S).add_node("f", flaky, error_handler=broken).add_edge(lib.graph.START, "f")
        with pytest.raises(KeyError, match="handler broke"):
            g2.compile().invoke({"log": []})
        return out, calls["flaky"]

    assert run(WP) == run(LG) == ({"log": ["fallback"]}, 3)


def test_async_error_handler() -> None:
    async def a(s: S) -> dict:
        raise ValueError("x")

    async def handler(s: S, error: wp_errors.NodeError) -> dict:
        return {"log": [type(error.error).__name__]}

    g = wp_graph.StateGraph(S).add_node("a", a, error_handler=handler).add_edge(wp_graph.START, "a")
    assert asyncio.run(g.compile().ainvoke({"log": []})) == {"log": ["ValueError"]}


# --- set_node_defaults ---------------------------------------------------------------------


def test_set_node_defaults_as_langgraph() -> None:
    def run(lib: Any) -> Any:
        calls: Counter = Counter()

        def a(s: S) -> dict:
            calls["a"] += 1
            raise ConnectionError("flaky")

        def b(s: S) -> dict:
            return {"log": ["b"]}

        def fallback(s: S, error: lib.errors.NodeError) -> dict:
            return {"log": [f"fallback for {error.node}"]}

        own_retry = lib.types.RetryPolicy(max_attempts=1)
        g = lib.graph.StateGraph(S).set_node_defaults(
            retry_policy=lib.types.RetryPolicy(max_attempts=3, initial_interval=0.01),
            error_handler=fallback,
        )
        g.add_node("a", a).add_node("b", b).add_node("c", a, retry_policy=own_retry)
        g.add_edge(lib.graph.START, "a").add_edge(lib.graph.START, "b").add_edge(lib.graph.START, "c")
        graph = g.compile()
        out = graph.invoke({"log": []})
        return sorted(out["log"]), calls["a"], list(graph.nodes)

    wp = run(WP)
    assert wp == run(LG)
    assert wp[1] == 4  # a: 3 attempts (default policy), c: 1 (its own)
    assert wp[2][-1] == "__default_error_handler__"


def test_set_node_defaults_cache_policy_and_timeout() -> None:
    from waypoint.cache.memory import InMemoryCache

    calls: Counter = Counter()

    def n(s: S) -> dict:
        calls["n"] += 1
        return {"log": ["n"]}

    g = wp_graph.StateGraph(S).set_node_defaults(cache_policy=wp_types.CachePolicy())
    graph = g.add_node("n", n).add_edge(wp_graph.START, "n").compile(cache=InMemoryCache())
    graph.invoke({"log": []})
    graph.invoke({"log": []})
    assert calls["n"] == 1
    sync_default = wp_graph.StateGraph(S).set_node_defaults(timeout=1).add_node("n", n)
    with pytest.raises(InvalidGraphError, match="sync"):
        sync_default.add_edge(wp_graph.START, "n").compile()
    timed = wp_graph.StateGraph(S).set_node_defaults(timeout=0.05).add_node("s", stuck)
    with pytest.raises(wp_errors.NodeTimeoutError):
        asyncio.run(timed.add_edge(wp_graph.START, "s").compile().ainvoke({"log": []}))


@LOOP
async def test_handled_failure_resumes_cleanly_on_every_saver(saver: Any, face: Face, config: dict) -> None:
    graph = handled_graph(WP, saver)
    out = await face.invoke(graph, {"log": []}, config)
    assert out == {"log": ["handled a: bad a", "b", "c"]}
    hist = await face.history(graph, config)
    step0 = next(s for s in hist if s.metadata["step"] == 0)
    assert {t.name: t.error for t in step0.tasks} == {"a": "ValueError('bad a')", "b": None}
    assert (await face.get_state(graph, config)).next == ()


@pytest.mark.parametrize("lib", [WP, LG], ids=["waypoint", "langgraph"])
@pytest.mark.parametrize("pass_config", [True, False], ids=["config", "context"])
def test_langchain_runs_inside_a_node_are_progress_under_auto(lib: Any, pass_config: bool) -> None:
    from langchain_core.runnables import RunnableConfig, RunnableLambda

    step = RunnableLambda(lambda x: x + 1)

    async def work(s: S, config: RunnableConfig) -> dict:
        n = 0
        for _ in range(12):  # 0.6 s in total, never 0.5 s without a LangChain run
            await asyncio.sleep(0.05)
            n = await (step.ainvoke(n, config) if pass_config else step.ainvoke(n))
        return {"log": [n]}

    def build(refresh_on: str) -> Any:
        policy = lib.types.TimeoutPolicy(idle_timeout=0.5, refresh_on=refresh_on)
        b = lib.graph.StateGraph(S).add_node("work", work, timeout=policy)
        return b.add_edge(lib.graph.START, "work").compile()

    assert asyncio.run(build("auto").ainvoke({"log": []})) == {"log": [12]}
    with pytest.raises(lib.errors.NodeTimeoutError, match="idle"):  # heartbeats only
        asyncio.run(build("heartbeat").ainvoke({"log": []}))


def interrupting_handler_graph(lib: Any, checkpointer: Any, calls: list) -> Any:
    def a(s: S) -> dict:
        calls.append("a")
        raise ValueError("bad")

    def handler(s: S, error: lib.errors.NodeError) -> dict:
        calls.append(("h", type(error.error).__name__))
        answer = lib.types.interrupt("retry or skip?")
        return {"log": [f"answer {answer}"]}

    g = lib.graph.StateGraph(S).add_node("a", a, error_handler=handler).add_edge(lib.graph.START, "a")
    return g.compile(checkpointer=checkpointer)


def test_an_interrupted_error_handler_resumes_without_rerunning_the_failed_node() -> None:
    def run(lib: Any) -> Any:
        calls: list = []
        graph = interrupting_handler_graph(lib, lib.memory.InMemorySaver(), calls)
        cfg = {"configurable": {"thread_id": "1"}}
        first = graph.invoke({"log": []}, cfg)["__interrupt__"][0].value
        snap = graph.get_state(cfg)
        out = graph.invoke(lib.types.Command(resume="skip"), cfg)
        return first, snap.next, out, calls

    wp = run(WP)
    assert wp == run(LG)
    # on resume the handler gets the stored error (its repr, a str), as in LangGraph
    assert wp[3] == ["a", ("h", "ValueError"), ("h", "str")]


@LOOP
async def test_interrupted_error_handler_resumes_on_every_saver(saver: Any, face: Face, config: dict) -> None:
    calls: list = []
    graph = interrupting_handler_graph(WP, saver, calls)
    await face.invoke(graph, {"log": []}, config)
    out = await face.invoke(graph, wp_types.Command(resume="skip"), config)
    assert out == {"log": ["answer skip"]}
    assert [c if isinstance(c, str) else c[0] for c in calls] == ["a", "h", "h"]
