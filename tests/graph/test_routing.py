"""Conditional edges, loops, fan-out/fan-in, Send map-reduce, Command, recursion limit."""

from __future__ import annotations

import operator
import threading
import time
from typing import Annotated, Literal, TypedDict

import pytest

from waypoint.errors import GraphRecursionError, InvalidUpdateError
from waypoint.graph import END, START, StateGraph
from waypoint.types import Command, Send


class S(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


def test_conditional_loop_until_done() -> None:
    def inc(s: S) -> dict:
        return {"n": s["n"] + 1, "log": [f"inc{s['n']}"]}

    def route(s: S) -> Literal["inc", "__end__"]:
        return "inc" if s["n"] < 3 else END

    builder = StateGraph(S).add_node(inc).add_edge(START, "inc").add_conditional_edges("inc", route)
    assert builder.compile().invoke({"n": 0}) == {"n": 3, "log": ["inc0", "inc1", "inc2"]}


def test_path_map_dict_list_and_multiple_destinations() -> None:
    builder = StateGraph(S)
    for name in ("a", "b", "c"):
        builder.add_node(name, (lambda name: lambda s: {"log": [name]})(name))
    builder.add_conditional_edges(START, lambda s: "left" if s["n"] else "right", {"left": "a", "right": "b"})
    builder.add_conditional_edges("a", lambda s: ["b", "c"], ["b", "c"])
    graph = builder.compile()
    assert graph.invoke({"n": 1})["log"] == ["a", "b", "c"]
    assert graph.invoke({"n": 0})["log"] == ["b"]


def test_routing_function_sees_the_nodes_own_writes() -> None:
    seen = []

    def route(s: S) -> str:
        seen.append(s["n"])
        return END

    builder = StateGraph(S).add_node("w", lambda s: {"n": 42}).add_edge(START, "w")
    builder.add_conditional_edges("w", route)
    builder.compile().invoke({"n": 0})
    assert seen == [42]


def test_unknown_route_at_runtime() -> None:
    builder = StateGraph(S).add_node("a", lambda s: None).add_edge(START, "a")
    builder.add_conditional_edges("a", lambda s: "ghost")
    with pytest.raises(InvalidUpdateError, match="ghost"):
        builder.compile().invoke({"n": 0})


def test_fan_out_fan_in_waits_for_all_and_runs_concurrently() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def slow(name: str):
        def fn(s: S) -> dict:
            barrier.wait()  # both branches must be running at the same time
            return {"log": [name]}

        return fn

    builder = StateGraph(S)
    builder.add_node("left", slow("left")).add_node("right", slow("right"))
    builder.add_node("join", lambda s: {"log": [f"join:{len(s['log'])}"]})
    builder.add_edge(START, "left").add_edge(START, "right")
    builder.add_edge(["left", "right"], "join")
    assert builder.compile().invoke({"n": 0})["log"] == ["left", "right", "join:2"]


def test_fan_in_waits_across_steps() -> None:
    builder = StateGraph(S)
    builder.add_node("fast", lambda s: {"log": ["fast"]})
    builder.add_node("slow1", lambda s: {"log": ["slow1"]})
    builder.add_node("slow2", lambda s: {"log": ["slow2"]})
    builder.add_node("join", lambda s: {"log": ["join"]})
    builder.add_edge(START, "fast").add_edge(START, "slow1").add_edge("slow1", "slow2")
    builder.add_edge(["fast", "slow2"], "join")
    assert builder.compile().invoke({"n": 0})["log"] == ["fast", "slow1", "slow2", "join"]


def test_writes_apply_in_task_order_not_completion_order() -> None:
    def late(s: S) -> dict:
        time.sleep(0.05)
        return {"log": ["a-late"]}

    builder = StateGraph(S).add_node("a", late).add_node("b", lambda s: {"log": ["b-early"]})
    builder.add_edge(START, "a").add_edge(START, "b")
    assert builder.compile().invoke({"n": 0})["log"] == ["a-late", "b-early"]


def test_writes_are_invisible_to_other_nodes_of_the_same_step() -> None:
    seen = {}

    def writer(s: S) -> dict:
        return {"n": 99}

    def reader(s: S) -> dict:
        seen["n"] = s["n"]
        return {}

    builder = StateGraph(S).add_node(writer).add_node(reader)
    builder.add_edge(START, "writer").add_edge(START, "reader")
    assert builder.compile().invoke({"n": 1})["n"] == 99
    assert seen == {"n": 1}


def test_send_map_reduce() -> None:
    class MR(TypedDict):
        subjects: list[str]
        jokes: Annotated[list[str], operator.add]

    def fan_out(s: MR) -> list[Send]:
        return [Send("joke", {"subject": x}) for x in s["subjects"]]

    def joke(arg: dict) -> dict:
        return {"jokes": [f"joke about {arg['subject']}"]}

    builder = StateGraph(MR).add_node("joke", joke).add_node("summ", lambda s: {"subjects": ["done"]})
    builder.add_conditional_edges(START, fan_out)
    builder.add_edge("joke", "summ")
    out = builder.compile().invoke({"subjects": ["cats", "dogs", "owls"]})
    assert out == {"subjects": ["done"], "jokes": ["joke about cats", "joke about dogs", "joke about owls"]}


def test_command_update_and_goto() -> None:
    def decide(s: S) -> Command[Literal["yes", "no"]]:
        return Command(update={"log": ["decided"]}, goto="yes" if s["n"] else "no")

    builder = StateGraph(S).add_node(decide)
    builder.add_node("yes", lambda s: {"log": ["yes"]}).add_node("no", lambda s: {"log": ["no"]})
    builder.add_edge(START, "decide")
    graph = builder.compile()
    assert graph.invoke({"n": 1})["log"] == ["decided", "yes"]
    assert graph.invoke({"n": 0})["log"] == ["decided", "no"]


def test_command_goto_send_and_list_and_end() -> None:
    def go(s: S) -> Command:
        return Command(goto=[Send("echo", {"n": 7, "log": []}), "other"])

    def echo(s: S) -> dict:
        return {"log": [f"echo{s['n']}"]}

    builder = StateGraph(S).add_node(go).add_node(echo).add_node("other", lambda s: {"log": ["other"]})
    builder.add_edge(START, "go")
    assert builder.compile().invoke({"n": 0})["log"] == ["other", "echo7"]
    builder = StateGraph(S).add_node("stop", lambda s: Command(goto=END, update={"n": 5}))
    builder.add_edge(START, "stop")
    assert builder.compile().invoke({"n": 0}) == {"n": 5, "log": []}
    builder = StateGraph(S).add_node("bad", lambda s: Command(goto="ghost")).add_edge(START, "bad")
    with pytest.raises(InvalidUpdateError, match="ghost"):
        builder.compile().invoke({"n": 0})


def test_recursion_limit_default_and_config() -> None:
    builder = StateGraph(S).add_node("spin", lambda s: {"n": s["n"] + 1}).add_edge(START, "spin")
    builder.add_conditional_edges("spin", lambda s: "spin")
    graph = builder.compile()
    with pytest.raises(GraphRecursionError, match="Recursion limit of 25"):
        graph.invoke({"n": 0})
    with pytest.raises(GraphRecursionError, match="Recursion limit of 3"):
        graph.invoke({"n": 0}, {"recursion_limit": 3})
    assert isinstance(GraphRecursionError("x"), RecursionError)


def test_recursion_limit_counts_supersteps() -> None:
    builder = StateGraph(S).add_node("inc", lambda s: {"n": s["n"] + 1}).add_edge(START, "inc")
    builder.add_conditional_edges("inc", lambda s: "inc" if s["n"] < 3 else END)
    graph = builder.compile()
    assert graph.invoke({"n": 0}, {"recursion_limit": 3}) == {"n": 3, "log": []}
    with pytest.raises(GraphRecursionError):
        graph.invoke({"n": 0}, {"recursion_limit": 2})


async def test_async_routing_function() -> None:
    async def route(s: S) -> str:
        return "b"

    builder = StateGraph(S).add_node("a", lambda s: {"log": ["a"]}).add_node("b", lambda s: {"log": ["b"]})
    builder.add_edge(START, "a").add_conditional_edges("a", route)
    graph = builder.compile()
    assert (await graph.ainvoke({"n": 0}))["log"] == ["a", "b"]
    with pytest.raises(InvalidUpdateError, match="async"):
        graph.invoke({"n": 0})
