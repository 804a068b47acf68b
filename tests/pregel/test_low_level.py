"""The low-level Pregel API (``NodeBuilder`` + ``Pregel(nodes=, channels=, input_channels=,
output_channels=)``), side by side with LangGraph 1.2."""

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

import langgraph.channels as lg_channels
import langgraph.checkpoint.memory as lg_memory
import langgraph.pregel as lg_pregel
from langgraph.pregel._write import ChannelWriteEntry as LGEntry

import waypoint.channels as wp_channels
import waypoint.checkpoint.memory as wp_memory
import waypoint.pregel as wp_pregel
from waypoint.errors import InvalidGraphError
from waypoint.pregel.builder import ChannelWriteEntry as WPEntry

from tests.hitl.conftest import LOOP, Face, config, face, saver  # noqa: F401  (fixtures)

WP = SimpleNamespace(pregel=wp_pregel, channels=wp_channels, memory=wp_memory, Entry=WPEntry)
LG = SimpleNamespace(pregel=lg_pregel, channels=lg_channels, memory=lg_memory, Entry=LGEntry)


def two_nodes(lib: Any, *, single: bool, checkpointer: Any = None, **kw: Any) -> Any:
    P, NB, C = lib.pregel.Pregel, lib.pregel.NodeBuilder, lib.channels
    node1 = NB().subscribe_only("a").do(lambda x: x + x).write_to("b")
    node2 = NB().subscribe_only("b").do(lambda x: x + x).write_to("c", d=lambda x: len(x))
    return P(
        nodes={"node1": node1, "node2": node2},
        channels={"a": C.EphemeralValue(str), "b": C.LastValue(str), "c": C.EphemeralValue(str), "d": C.LastValue(int)},
        input_channels="a" if single else ["a"], output_channels="c" if single else ["b", "c"],
        checkpointer=checkpointer, **kw,
    )


def scenario(lib: Any) -> list[Any]:
    out: list[Any] = []
    app = two_nodes(lib, single=False)
    out.append(app.invoke({"a": "foo"}))
    out.append(list(app.stream({"a": "foo"}, stream_mode=["updates", "values"])))
    app2 = two_nodes(lib, single=True, checkpointer=lib.memory.InMemorySaver())
    cfg = {"configurable": {"thread_id": "1"}}
    out.append(app2.invoke("foo", cfg))
    out.append((app2.get_state(cfg).values, app2.get_state(cfg).next))
    out.append(asyncio.run(app2.ainvoke("ab", {"configurable": {"thread_id": "2"}})))
    C, NB = lib.channels, lib.pregel.NodeBuilder
    n1 = NB().subscribe_to("a").read_from("k").do(lambda d: f"{d['a']}-{d.get('k')}").write_to("log")
    n2 = NB().subscribe_to("a", read=False).do(lambda x: x).write_to("echo")
    app3 = lib.pregel.Pregel(
        nodes={"n1": n1, "n2": n2},
        channels={"a": C.LastValue(str), "k": C.LastValue(str), "log": C.Topic(str, accumulate=True),
                  "echo": C.LastValue(object)},
        input_channels=["a", "k"], output_channels=["log", "echo"],
    )
    out.append(app3.invoke({"a": "x", "k": "K"}))
    counter = NB().subscribe_only("v").do(lambda x: x + 1 if x < 5 else None).write_to(lib.Entry("v", skip_none=True))
    app4 = lib.pregel.Pregel(nodes={"loop": counter}, channels={"v": C.LastValue(int)},
                             input_channels="v", output_channels="v")
    out.append(app4.invoke(1))
    chained = NB().subscribe_only("v").do(lambda x: x * 2).do(lambda x: x + 1).write_to(w="const", v2=lambda x: -x)
    app5 = lib.pregel.Pregel(nodes={"c": chained}, channels={"v": C.LastValue(int), "w": C.LastValue(str), "v2": C.LastValue(int)},
                             input_channels="v", output_channels=["w", "v2"])
    out.append(app5.invoke(3))
    return out


def test_low_level_graphs_behave_as_langgraph() -> None:
    wp = scenario(WP)
    assert wp == scenario(LG)
    assert wp[0] == {"b": "foofoo", "c": "foofoofoofoo"}


def test_interrupt_before_a_low_level_node_and_resume() -> None:
    def run(lib: Any) -> Any:
        app = two_nodes(lib, single=True, checkpointer=lib.memory.InMemorySaver(), interrupt_before_nodes=["node2"])
        cfg = {"configurable": {"thread_id": "1"}}
        first = app.invoke("hi", cfg)
        nxt = app.get_state(cfg).next
        return first, nxt, app.invoke(None, cfg)

    assert run(WP) == run(LG)
    assert run(WP)[1] == ("node2",)


def test_bad_low_level_graphs_are_named_errors() -> None:
    C, NB, P = wp_channels, wp_pregel.NodeBuilder, wp_pregel.Pregel
    with pytest.raises(InvalidGraphError, match="reads channel 'zz'"):
        P(nodes={"n": NB().subscribe_only("zz").do(lambda x: x)}, channels={"a": C.LastValue(int)},
          input_channels="a", output_channels="a")
    with pytest.raises(InvalidGraphError, match="writes to channel 'nope'"):
        P(nodes={"n": NB().subscribe_only("a").write_to("nope")}, channels={"a": C.LastValue(int)},
          input_channels="a", output_channels="a")
    with pytest.raises(InvalidGraphError, match="output_channels names unknown channel 'x'"):
        P(nodes={}, channels={"a": C.LastValue(int)}, input_channels="a", output_channels="x")
    with pytest.raises(InvalidGraphError, match="subscribe_only"):
        NB().subscribe_to("a").subscribe_only("b")
    with pytest.raises(InvalidGraphError, match="needs input_channels"):
        P(nodes={}, channels={"a": C.LastValue(int)}, output_channels="a")
    app = P(nodes={"n": NB().subscribe_only("a").write_to("a")}, channels={"a": C.LastValue(int)},
            input_channels=["a"], output_channels="a")
    with pytest.raises(ValueError, match="pass a dict"):
        app.invoke(3)


@LOOP
async def test_low_level_graph_persists_on_every_saver(saver: Any, face: Face, config: dict) -> None:
    app = two_nodes(WP, single=True, checkpointer=saver, interrupt_before_nodes=["node2"])
    assert await face.invoke(app, "ab", config) is None  # c is ephemeral: nothing yet
    snap = await face.get_state(app, config)
    assert snap.next == ("node2",) and snap.values == {"b": "abab"}
    assert await face.invoke(app, None, config) == "abababab"
    assert (await face.get_state(app, config)).values["d"] == 8
