"""interrupt() / Command(resume=...) over every saver, through the sync and async faces."""

from __future__ import annotations

import operator
from collections import Counter
from typing import Annotated, Any, TypedDict

import pytest

from waypoint.graph import START, StateGraph
from waypoint.types import Command, Interrupt, interrupt

from tests.hitl.conftest import LOOP, Face

pytestmark = LOOP


class S(TypedDict):
    topic: str
    log: Annotated[list[str], operator.add]


async def test_two_interrupts_in_one_node_answered_in_order(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()

    def approve(state: S) -> dict:
        runs["approve"] += 1
        first = interrupt({"question": "approve draft?", "topic": state["topic"]})
        second = interrupt("really?")
        return {"log": [f"approved:{first}:{second}"]}

    def publish(state: S) -> dict:
        runs["publish"] += 1
        return {"log": ["published"]}

    builder = StateGraph(S).add_node(approve).add_node(publish)
    builder.add_edge(START, "approve").add_edge("approve", "publish")
    graph = builder.compile(checkpointer=saver)

    out = await face.invoke(graph, {"topic": "cats"}, config)
    assert out["log"] == [] and out["topic"] == "cats"
    [first] = out["__interrupt__"]
    assert isinstance(first, Interrupt)
    assert first.value == {"question": "approve draft?", "topic": "cats"}
    snap = await face.get_state(graph, config)
    assert snap.next == ("approve",)
    assert snap.tasks[0].interrupts == (first,)
    assert snap.interrupts == (first,)

    out = await face.invoke(graph, Command(resume="yes"), config)
    [second] = out["__interrupt__"]
    assert second.value == "really?" and second.id != first.id
    assert (await face.get_state(graph, config)).interrupts == (second,)

    out = await face.invoke(graph, Command(resume="sure"), config)
    assert out == {"topic": "cats", "log": ["approved:yes:sure", "published"]}
    assert runs == Counter({"approve": 3, "publish": 1})
    snap = await face.get_state(graph, config)
    assert snap.next == () and snap.interrupts == ()


async def test_resume_with_update_applies_the_update_first(saver: Any, face: Face, config: dict) -> None:
    seen: list[str] = []

    def review(state: S) -> dict:
        answer = interrupt("edit the topic?")
        seen.append(state["topic"])
        return {"log": [f"{state['topic']}:{answer}"]}

    graph = StateGraph(S).add_node(review).add_edge(START, "review").compile(checkpointer=saver)
    await face.invoke(graph, {"topic": "draft"}, config)
    out = await face.invoke(graph, Command(resume="ok", update={"topic": "final"}), config)
    assert out == {"topic": "final", "log": ["final:ok"]}
    assert seen == ["final"]


async def test_parallel_interrupts_resumed_together_by_id(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()

    def asker(name: str):
        def fn(state: S) -> dict:
            runs[name] += 1
            return {"log": [f"{name}={interrupt(f'{name}?')}"]}

        return fn

    def quiet(state: S) -> dict:
        runs["quiet"] += 1
        return {"log": ["quiet"]}

    builder = StateGraph(S).add_node("p", asker("p")).add_node("q", asker("q")).add_node(quiet)
    for n in ("p", "q", "quiet"):
        builder.add_edge(START, n)
    graph = builder.compile(checkpointer=saver)

    out = await face.invoke(graph, {"topic": "t"}, config)
    pending = out["__interrupt__"]
    assert sorted(i.value for i in pending) == ["p?", "q?"]
    assert out["log"] == ["quiet"]  # the finished sibling's writes show, not yet applied
    snap = await face.get_state(graph, config)
    assert set(snap.next) == {"p", "q"} and len(snap.interrupts) == 2

    with pytest.raises(RuntimeError, match="interrupts are pending"):
        await face.invoke(graph, Command(resume="same for all"), config)

    answers = {i.id: f"ans-{i.value[0]}" for i in pending}
    out = await face.invoke(graph, Command(resume=answers), config)
    assert out["log"] == ["p=ans-p", "q=ans-q", "quiet"]
    assert runs == Counter({"p": 2, "q": 2, "quiet": 1})


async def test_resume_one_of_two_interrupts_then_the_other(saver: Any, face: Face, config: dict) -> None:
    def asker(name: str):
        def fn(state: S) -> dict:
            return {"log": [f"{name}={interrupt(name)}"]}

        return fn

    builder = StateGraph(S).add_node("p", asker("p")).add_node("q", asker("q"))
    builder.add_edge(START, "p").add_edge(START, "q")
    graph = builder.compile(checkpointer=saver)
    out = await face.invoke(graph, {"topic": ""}, config)
    by_value = {i.value: i for i in out["__interrupt__"]}
    out = await face.invoke(graph, Command(resume={by_value["p"].id: 1}), config)
    assert [i.value for i in out["__interrupt__"]] == ["q"]
    assert (await face.get_state(graph, config)).next == ("q",)
    out = await face.invoke(graph, Command(resume=2), config)  # only one left: a plain value works
    assert out["log"] == ["p=1", "q=2"]


async def test_subgraph_interrupt_resumed_from_parent(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()

    class Child(TypedDict):
        topic: str
        log: Annotated[list[str], operator.add]

    def prepare(state: Child) -> dict:
        runs["prepare"] += 1
        return {"log": ["prepared"]}

    def confirm(state: Child) -> dict:
        runs["confirm"] += 1
        return {"log": [f"confirmed:{interrupt('confirm?')}"]}

    child_builder = StateGraph(Child).add_node(prepare).add_node(confirm)
    child_builder.add_edge(START, "prepare").add_edge("prepare", "confirm")
    child = child_builder.compile()

    def after(state: S) -> dict:
        runs["after"] += 1
        return {"log": ["after"]}

    builder = StateGraph(S).add_node("child", child).add_node(after)
    builder.add_edge(START, "child").add_edge("child", "after")
    graph = builder.compile(checkpointer=saver)

    out = await face.invoke(graph, {"topic": "x"}, config)
    [pending] = out["__interrupt__"]
    assert pending.value == "confirm?"
    snap = await face.get_state(graph, config)
    assert snap.next == ("child",)
    assert snap.tasks[0].interrupts == (pending,)
    deep = await face.get_state(graph, config, subgraphs=True)
    assert deep.tasks[0].state.next == ("confirm",)
    assert deep.tasks[0].state.interrupts == (pending,)

    out = await face.invoke(graph, Command(resume="yes"), config)
    assert out["log"] == ["prepared", "confirmed:yes", "after"]
    assert runs == Counter({"prepare": 1, "confirm": 2, "after": 1})


async def test_interrupt_shows_in_stream_updates(saver: Any, face: Face, config: dict) -> None:
    def ask(state: S) -> dict:
        return {"log": [interrupt("name?")]}

    graph = StateGraph(S).add_node(ask).add_edge(START, "ask").compile(checkpointer=saver)
    chunks = await face.stream(graph, {"topic": ""}, config, stream_mode="updates")
    assert len(chunks) == 1
    [intr] = chunks[0]["__interrupt__"]
    assert intr.value == "name?"
    chunks = await face.stream(graph, Command(resume="bob"), config, stream_mode="updates")
    assert chunks == [{"ask": {"log": ["bob"]}}]


async def test_resume_without_pending_interrupt_is_an_error(saver: Any, face: Face, config: dict) -> None:
    graph = StateGraph(S).add_node("n", lambda s: {}).add_edge(START, "n").compile(checkpointer=saver)
    with pytest.raises(ValueError, match="no checkpoint|Nothing to resume"):
        await face.invoke(graph, Command(resume="x"), config)
    await face.invoke(graph, {"topic": ""}, config)
    with pytest.raises(ValueError, match="no pending interrupt"):
        await face.invoke(graph, Command(resume="x"), config)


async def test_interrupts_inside_send_tasks(saver: Any, face: Face, config: dict) -> None:
    from waypoint.types import Send

    class M(TypedDict):
        items: list[str]
        out: Annotated[list[str], operator.add]

    runs: Counter = Counter()

    def work(arg: dict) -> dict:
        runs[arg["x"]] += 1
        return {"out": [f"{arg['x']}:{interrupt(arg['x'])}"]}

    builder = StateGraph(M).add_node("work", work)
    builder.add_conditional_edges(START, lambda s: [Send("work", {"x": i}) for i in s["items"]])
    graph = builder.compile(checkpointer=saver)
    out = await face.invoke(graph, {"items": ["a", "b"]}, config)
    assert sorted(i.value for i in out["__interrupt__"]) == ["a", "b"]
    out = await face.invoke(graph, Command(resume={i.id: i.value.upper() for i in out["__interrupt__"]}), config)
    assert out == {"items": ["a", "b"], "out": ["a:A", "b:B"]}
    assert runs == Counter({"a": 2, "b": 2})


async def test_nested_subgraph_interrupt(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()

    def leaf(state: S) -> dict:
        runs["leaf"] += 1
        return {"topic": f"leaf:{interrupt('deep?')}"}

    inner = StateGraph(S).add_node(leaf).add_edge(START, "leaf").compile()
    mid_builder = StateGraph(S).add_node("inner", inner).add_edge(START, "inner")
    mid = mid_builder.compile()
    graph = StateGraph(S).add_node("mid", mid).add_edge(START, "mid").compile(checkpointer=saver)
    out = await face.invoke(graph, {"topic": ""}, config)
    [pending] = out["__interrupt__"]
    deep = await face.get_state(graph, config, subgraphs=True)
    inner_snap = deep.tasks[0].state.tasks[0].state
    assert inner_snap.interrupts == (pending,)
    ns = inner_snap.config["configurable"]["checkpoint_ns"]
    assert ns.count("|") == 1 and ns.startswith("mid:")
    assert set(inner_snap.metadata["parents"]) == {"", ns.split("|")[0]}
    out = await face.invoke(graph, Command(resume="yes"), config)
    assert out["topic"] == "leaf:yes"
    assert runs == Counter({"leaf": 2})
