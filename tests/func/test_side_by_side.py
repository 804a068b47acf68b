"""The same functional-API workflows run under LangGraph 1.2 and waypoint in one process: what
each streams, returns and shows as state must match (interrupt ids are each library's own)."""

from __future__ import annotations

import importlib
from typing import Any


def _lib(name: str) -> dict[str, Any]:
    return {
        "entrypoint": importlib.import_module(f"{name}.func").entrypoint,
        "task": importlib.import_module(f"{name}.func").task,
        "saver": importlib.import_module(f"{name}.checkpoint.memory").InMemorySaver,
        "types": importlib.import_module(f"{name}.types"),
        "cache": importlib.import_module(f"{name}.cache.memory").InMemoryCache,
    }


def _plain(chunk: Any) -> Any:
    """Interrupts as their values (ids differ between the libraries by design)."""
    if isinstance(chunk, tuple):
        return tuple(_plain(c) for c in chunk)
    if isinstance(chunk, list):
        return [_plain(c) for c in chunk]
    if isinstance(chunk, dict):
        return {k: _plain(v) for k, v in chunk.items()}
    if type(chunk).__name__ == "Interrupt":
        return ("Interrupt", chunk.value)
    return chunk


def approval_flow(name: str) -> list[Any]:
    lib = _lib(name)
    entrypoint, task, types = lib["entrypoint"], lib["task"], lib["types"]
    out: list[Any] = []

    @task
    def price(item: str) -> int:
        return {"tea": 3, "cake": 5}[item]

    @task
    def confirm(total: int) -> Any:
        return types.interrupt({"total": total})

    @entrypoint(checkpointer=lib["saver"]())
    def checkout(items: list[str], *, previous: Any = None) -> Any:
        total = sum(f.result() for f in [price(i) for i in items])
        answer = confirm(total).result()
        orders = (previous or {}).get("orders", 0) + (answer == "yes")
        return entrypoint.final(value={"total": total, "answer": answer}, save={"orders": orders})

    config = {"configurable": {"thread_id": "t"}}
    for mode in (["updates", "values"], "values"):
        thread = {"configurable": {"thread_id": f"t-{mode}"}}
        out.append(sorted(map(repr, _plain(list(checkout.stream(["tea", "cake"], thread, stream_mode=mode))))))
    out.append(_plain(checkout.invoke(["tea", "cake"], config)))
    snap = checkout.get_state(config)
    out.append((snap.values, snap.next, _plain(snap.interrupts), snap.metadata))
    out.append(_plain(list(checkout.stream(types.Command(resume="yes"), config, stream_mode=["updates", "values"]))))
    out.append(_plain(checkout.invoke(["tea"], config)))
    out.append(_plain(checkout.invoke(types.Command(resume="no"), config)))
    out.append([(s.metadata["source"], s.metadata["step"], s.values, s.next, [t.name for t in s.tasks])
                for s in checkout.get_state_history(config)])
    new = checkout.update_state(config, {"total": 0, "answer": "reset"})
    out.append((sorted(new["configurable"]), checkout.get_state(config).values))
    return out


def cached_tasks(name: str) -> list[Any]:
    lib = _lib(name)
    entrypoint, task, types = lib["entrypoint"], lib["task"], lib["types"]
    runs: list[int] = []

    @task(cache_policy=types.CachePolicy())
    def square(x: int) -> int:
        runs.append(x)
        return x * x

    @entrypoint(checkpointer=lib["saver"](), cache=lib["cache"]())
    def total(xs: list[int]) -> int:
        return sum(f.result() for f in [square(x) for x in xs])

    out: list[Any] = []
    for i, xs in enumerate(([1, 2], [2, 3], [3])):
        chunks = list(total.stream(xs, {"configurable": {"thread_id": str(i)}}))
        out.append(sorted(map(repr, chunks)))
    out.append(sorted(runs))
    return out


def test_approval_flow_matches_langgraph() -> None:
    assert approval_flow("waypoint") == approval_flow("langgraph")


def test_cached_tasks_match_langgraph() -> None:
    assert cached_tasks("waypoint") == cached_tasks("langgraph")


def nested_workflows(name: str) -> list[Any]:
    lib = _lib(name)
    entrypoint, task, types = lib["entrypoint"], lib["task"], lib["types"]
    graph_mod = importlib.import_module(f"{name}.graph")

    @task
    def inc(x: int) -> int:
        return x + 1

    @entrypoint()
    def inner(x: int) -> int:
        return inc(x).result() * types.interrupt("factor?")

    @entrypoint(checkpointer=lib["saver"]())
    def outer(x: int) -> int:
        return inner.invoke(x) + 1000

    config = {"configurable": {"thread_id": "1"}}
    out: list[Any] = [_plain(list(outer.stream(1, config)))]
    snap = outer.get_state(config, subgraphs=True)
    inner_state = snap.tasks[0].state  # the invoked workflow's own checkpoint
    out.append((snap.next, [t.name for t in snap.tasks], _plain(snap.interrupts),
                inner_state.values, inner_state.next, _plain(inner_state.interrupts)))
    out.append(list(outer.stream(types.Command(resume=10), config)))
    builder = graph_mod.StateGraph(dict).add_node("sub", lambda s: {"v": inner.invoke(s["v"])})
    g = builder.add_edge(graph_mod.START, "sub").compile(checkpointer=lib["saver"]())
    out.append(_plain(g.invoke({"v": 2}, config)))
    out.append(g.invoke(types.Command(resume=3), config))
    out.append(outer.get_graph().draw_mermaid().split("graph TD;")[1])
    return out


def test_nested_workflows_match_langgraph() -> None:
    assert nested_workflows("waypoint") == nested_workflows("langgraph")


def runnable_behaviour(name: str) -> list[Any]:
    import asyncio

    from langchain_core.runnables import Runnable, RunnableLambda

    lib = _lib(name)
    entrypoint, task = lib["entrypoint"], lib["task"]

    @task
    def inc(x: int) -> int:
        return x + 1

    @entrypoint()
    def wf(x: int) -> int:
        return inc(x).result()

    async def events() -> list[str]:
        return [e["name"] for e in [e async for e in wf.astream_events(1, version="v2")]
                if e["event"] == "on_chain_end"][-1:]

    return [wf.batch([1, 2, 3]), asyncio.run(wf.abatch([4, 5])), isinstance(wf, Runnable),
            (RunnableLambda(lambda x: x * 2) | wf).invoke(5), wf.with_config(recursion_limit=5).invoke(1),
            asyncio.run(events())]


def test_runnable_behaviour_matches_langgraph() -> None:
    assert runnable_behaviour("waypoint") == runnable_behaviour("langgraph")


def token_stream(name: str) -> list[Any]:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    lib = _lib(name)
    entrypoint, task = lib["entrypoint"], lib["task"]
    model = GenericFakeChatModel(messages=iter([AIMessage(content="hello there friend", id="m1")]))

    @task
    def chat(q: str) -> Any:
        return model.invoke(q)

    @entrypoint()
    def wf(q: str) -> str:
        return chat(q).result().content

    return [(m.content, meta["langgraph_node"]) for m, meta in wf.stream("hi", stream_mode="messages")]


def test_token_stream_from_a_task_matches_langgraph() -> None:
    ours = token_stream("waypoint")
    assert ours == token_stream("langgraph")
    assert "".join(c for c, _ in ours) == "hello there friend"
