"""Nodes share long-term memory across threads through the store (compile(store=...))."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from typing_extensions import TypedDict

from tests.backends import store_factories
from waypoint.checkpoint.memory import InMemorySaver
from waypoint.config import get_config, get_store
from waypoint.graph import END, START, StateGraph
from waypoint.store.base import BaseStore

import pytest


class State(TypedDict):
    fact: str
    recalled: Annotated[list[str], operator.add]


def remember(state: State, config: dict, *, store: BaseStore) -> dict:
    user = config["configurable"]["user"]
    if state.get("fact"):
        store.put(("users", user, "facts"), f"f{len(store.search(('users', user, 'facts')))}", {"text": state["fact"]})
    return {}


def recall(state: State) -> dict:
    user = get_config()["configurable"]["user"]
    items = get_store().search(("users", user, "facts"), limit=10)
    return {"recalled": sorted(i.value["text"] for i in items)}


def build(store: BaseStore) -> Any:
    b = StateGraph(State)
    b.add_node(remember)
    b.add_node(recall)
    b.add_edge(START, "remember")
    b.add_edge("remember", "recall")
    b.add_edge("recall", END)
    return b.compile(checkpointer=InMemorySaver(), store=store)


@pytest.mark.parametrize("name", sorted(n for n in store_factories() if "async" not in n))
async def test_memories_are_shared_across_threads(name: str) -> None:
    async with store_factories()[name]() as store:
        graph = build(store)
        t1 = {"configurable": {"thread_id": "t1", "user": "ada"}}
        t2 = {"configurable": {"thread_id": "t2", "user": "ada"}}
        t3 = {"configurable": {"thread_id": "t3", "user": "bob"}}
        import asyncio

        await asyncio.to_thread(graph.invoke, {"fact": "likes tea"}, t1)
        await asyncio.to_thread(graph.invoke, {"fact": "lives in Lisbon"}, t2)
        out = await asyncio.to_thread(graph.invoke, {"fact": ""}, {"configurable": {"thread_id": "t4", "user": "ada"}})
        assert out["recalled"] == ["likes tea", "lives in Lisbon"]
        out = await asyncio.to_thread(graph.invoke, {"fact": ""}, t3)
        assert out["recalled"] == []
        # the memory outlives the threads: deleting a thread's checkpoints keeps it
        graph.checkpointer.delete_thread("t1")
        assert len(store.search(("users", "ada", "facts"))) == 2


async def test_async_nodes_use_the_store_too() -> None:
    from waypoint.store.memory import InMemoryStore

    store = InMemoryStore()

    async def write(state: State, *, store: BaseStore) -> dict:
        await store.aput(("notes",), "n1", {"text": state["fact"]})
        return {}

    async def read(state: State) -> dict:
        item = await get_store().aget(("notes",), "n1")
        return {"recalled": [item.value["text"]]}

    b = StateGraph(State)
    b.add_node(write)
    b.add_node(read)
    b.add_edge(START, "write")
    b.add_edge("write", "read")
    graph = b.compile(store=store)
    assert (await graph.ainvoke({"fact": "async"}))["recalled"] == ["async"]
