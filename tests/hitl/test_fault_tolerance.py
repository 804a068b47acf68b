"""Pending writes, failures, retries, static breakpoints and durability over every saver."""

from __future__ import annotations

import operator
from collections import Counter
from typing import Annotated, Any, TypedDict

import pytest

from waypoint.graph import END, START, StateGraph
from waypoint.types import RetryPolicy, interrupt

from tests.hitl.conftest import LOOP, Face

pytestmark = LOOP


class S(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


class Boom(Exception):
    pass


async def test_failed_task_resumes_alone_siblings_not_rerun(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()
    fail = {"left": 1}

    def ok(state: S) -> dict:
        runs["ok"] += 1
        return {"log": ["ok"]}

    def flaky(state: S) -> dict:
        runs["flaky"] += 1
        if fail["left"]:
            fail["left"] -= 1
            raise Boom("disk on fire")
        return {"log": ["flaky"]}

    def join(state: S) -> dict:
        runs["join"] += 1
        return {"log": ["join"]}

    builder = StateGraph(S).add_node(ok).add_node(flaky).add_node(join)
    builder.add_edge(START, "ok").add_edge(START, "flaky").add_edge(["ok", "flaky"], "join")
    graph = builder.compile(checkpointer=saver)

    with pytest.raises(Boom, match="disk on fire"):
        await face.invoke(graph, {"n": 0}, config)
    snap = await face.get_state(graph, config)
    assert snap.next == ("flaky",)  # ok's writes are saved; it is done
    by_name = {t.name: t for t in snap.tasks}
    assert "disk on fire" in str(by_name["flaky"].error)
    assert by_name["ok"].error is None and by_name["ok"].result == {"log": ["ok"]}

    out = await face.invoke(graph, None, config)
    assert out["log"] == ["flaky", "ok", "join"]
    assert runs == Counter({"ok": 1, "flaky": 2, "join": 1})
    history = await face.history(graph, config)
    assert [h.metadata["step"] for h in history] == [2, 1, 0, -1]


async def test_retry_policy_retries_only_the_failing_node(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()

    def steady(state: S) -> dict:
        runs["steady"] += 1
        return {"log": ["steady"]}

    def wobbly(state: S) -> dict:
        runs["wobbly"] += 1
        if runs["wobbly"] < 3:
            raise ConnectionError("try again")
        return {"log": ["wobbly"]}

    policy = RetryPolicy(max_attempts=3, initial_interval=0.001, jitter=False)
    builder = StateGraph(S).add_node(steady).add_node(wobbly, retry_policy=policy)
    builder.add_edge(START, "steady").add_edge(START, "wobbly")
    graph = builder.compile(checkpointer=saver)
    out = await face.invoke(graph, {"n": 0}, config)
    assert out["log"] == ["steady", "wobbly"]
    assert runs == Counter({"steady": 1, "wobbly": 3})


async def test_retry_gives_up_after_max_attempts_and_respects_retry_on(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()

    def always(state: S) -> dict:
        runs["always"] += 1
        raise Boom("nope")

    def typed(state: S) -> dict:
        runs["typed"] += 1
        raise KeyError("not retried")

    fast = dict(initial_interval=0.001, jitter=False)
    builder = StateGraph(S).add_node(always, retry_policy=RetryPolicy(max_attempts=2, retry_on=Boom, **fast))
    builder.add_edge(START, "always")
    with pytest.raises(Boom):
        await face.invoke(builder.compile(checkpointer=saver), {"n": 0}, config)
    assert runs["always"] == 2
    builder = StateGraph(S).add_node(typed, retry_policy=RetryPolicy(max_attempts=5, retry_on=Boom, **fast))
    builder.add_edge(START, "typed")
    with pytest.raises(KeyError):
        await face.invoke(builder.compile(checkpointer=saver), {"n": 0}, {"configurable": {"thread_id": config["configurable"]["thread_id"] + "k"}})
    assert runs["typed"] == 1


def chain(runs: Counter) -> StateGraph:
    def make(name: str):
        def fn(state: S) -> dict:
            runs[name] += 1
            return {"n": state["n"] + 1, "log": [name]}

        return fn

    builder = StateGraph(S)
    for name in ("a", "b", "c"):
        builder.add_node(name, make(name))
    builder.add_edge(START, "a").add_edge("a", "b").add_edge("b", "c").add_edge("c", END)
    return builder


async def test_interrupt_before_then_update_state_and_continue(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()
    graph = chain(runs).compile(checkpointer=saver, interrupt_before=["b"])
    out = await face.invoke(graph, {"n": 0}, config)
    assert out == {"n": 1, "log": ["a"]} and "__interrupt__" not in out
    snap = await face.get_state(graph, config)
    assert snap.next == ("b",) and snap.interrupts == ()
    await face.update_state(graph, config, {"n": 100})
    assert (await face.get_state(graph, config)).next == ("b",)
    out = await face.invoke(graph, None, config)
    assert out == {"n": 102, "log": ["a", "b", "c"]}
    assert runs == Counter({"a": 1, "b": 1, "c": 1})


async def test_interrupt_after_per_call(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()
    graph = chain(runs).compile(checkpointer=saver)
    out = await face.invoke(graph, {"n": 0}, config, interrupt_after=["a", "b"])
    assert out["log"] == ["a"]
    out = await face.invoke(graph, None, config, interrupt_after=["a", "b"])
    assert out["log"] == ["a", "b"]
    out = await face.invoke(graph, None, config)
    assert out["log"] == ["a", "b", "c"]
    assert runs == Counter({"a": 1, "b": 1, "c": 1})


async def test_durability_modes_store_what_they_promise(saver: Any, face: Face, config: dict) -> None:
    base = config["configurable"]["thread_id"]
    counts = {}
    for mode in ("sync", "async", "exit"):
        cfg = {"configurable": {"thread_id": f"{base}-{mode}"}}
        graph = chain(Counter()).compile(checkpointer=saver)
        out = await face.invoke(graph, {"n": 0}, cfg, durability=mode)
        assert out == {"n": 3, "log": ["a", "b", "c"]}
        history = await face.history(graph, cfg)
        counts[mode] = len(history)
        assert history[0].values == out and history[0].next == ()
    assert counts == {"sync": 5, "async": 5, "exit": 1}


async def test_exit_durability_still_saves_interrupts_and_failures(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()
    state = {"fail": True}

    def a(s: S) -> dict:
        runs["a"] += 1
        return {"log": ["a"]}

    def b(s: S) -> dict:
        runs["b"] += 1
        if state["fail"]:
            state["fail"] = False
            raise Boom("b failed")
        return {"log": [f"b:{interrupt('go?')}"]}

    builder = StateGraph(S).add_node(a).add_node(b).add_edge(START, "a").add_edge("a", "b")
    graph = builder.compile(checkpointer=saver)
    with pytest.raises(Boom):
        await face.invoke(graph, {"n": 0}, config, durability="exit")
    snap = await face.get_state(graph, config)
    assert snap.next == ("b",) and "b failed" in str(snap.tasks[0].error)
    out = await face.invoke(graph, None, config, durability="exit")
    assert out["__interrupt__"][0].value == "go?"
    from waypoint.types import Command

    out = await face.invoke(graph, Command(resume="yes"), config, durability="exit")
    assert out["log"] == ["a", "b:yes"]
    assert runs == Counter({"a": 1, "b": 3})
    assert len(await face.history(graph, config)) == 2
