"""Cached node writes are saved like any task's writes, on every checkpoint saver."""

from __future__ import annotations

import operator
from collections import Counter
from typing import Annotated, Any, TypedDict

import pytest

from waypoint.cache.memory import InMemoryCache
from waypoint.graph import START, StateGraph
from waypoint.types import CachePolicy

from tests.hitl.conftest import LOOP, Face, config, face, saver  # noqa: F401  (fixtures)

pytestmark = LOOP


class S(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


class Boom(Exception):
    pass


async def test_cached_task_writes_are_pending_writes_of_the_failed_step(
    saver: Any, face: Face, config: dict
) -> None:
    runs: Counter = Counter()
    fail = {"left": 2}

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
        return {"log": ["join"]}

    builder = StateGraph(S).add_node(ok, cache_policy=CachePolicy()).add_node(flaky).add_node(join)
    builder.add_edge(START, "ok").add_edge(START, "flaky").add_edge(["ok", "flaky"], "join")
    graph = builder.compile(checkpointer=saver, cache=InMemoryCache())
    other = {"configurable": {"thread_id": config["configurable"]["thread_id"] + "-first"}}
    with pytest.raises(Boom):
        await face.invoke(graph, {"n": 0}, other)  # fills the cache for ok
    with pytest.raises(Boom):
        await face.invoke(graph, {"n": 0}, config)  # ok comes from the cache
    assert runs == {"ok": 1, "flaky": 2}
    snap = await face.get_state(graph, config)
    assert snap.next == ("flaky",)
    by_name = {t.name: t for t in snap.tasks}
    assert by_name["ok"].result == {"log": ["ok"]}  # the cached writes were saved
    out = await face.invoke(graph, None, config)
    assert sorted(out["log"]) == ["flaky", "join", "ok"]
    assert runs == {"ok": 1, "flaky": 3}
    steps = [s.metadata["step"] for s in await face.history(graph, config)]
    assert steps == sorted(steps, reverse=True) and steps[-1] == -1
