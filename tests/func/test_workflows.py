"""@entrypoint/@task workflows on every saver, through the sync and the async API.

Written from LangGraph's documented functional-API behaviour: ``previous`` is the last returned
(or ``entrypoint.final(save=...)``) value of the thread; tasks return futures and run in
parallel; a finished task's result is saved when it finishes, so a resumed workflow does not
run it again; ``interrupt()`` works inside tasks and entrypoints and is answered with
``Command(resume=...)``, several in a row in order.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import pytest

from waypoint.errors import AmbiguousResumeError
from waypoint.func import entrypoint, task
from waypoint.types import Command, RetryPolicy, interrupt

from tests.func.conftest import LOOP, Face

pytestmark = LOOP

FAST = dict(initial_interval=0.001, jitter=False)


async def test_previous_is_last_return_of_the_thread(saver: Any, face: Face, config: dict) -> None:
    seen: list[Any] = []

    @entrypoint(checkpointer=saver)
    def total(n: int, *, previous: Any = None) -> int:
        seen.append(previous)
        return (previous or 0) + n

    assert [await face.invoke(total, n, config) for n in (1, 2, 3)] == [1, 3, 6]
    assert seen == [None, 1, 3]
    other = {"configurable": {"thread_id": config["configurable"]["thread_id"] + "-other"}}
    assert await face.invoke(total, 10, other) == 10  # threads do not share previous
    snap = await face.get_state(total, config)
    assert snap.values == 6 and snap.next == ()
    history = await face.history(total, config)
    assert [(h.metadata["source"], h.metadata["step"], h.values) for h in history] == [
        ("loop", 4, 6), ("input", 3, 3), ("loop", 2, 3), ("input", 1, 1), ("loop", 0, 1), ("input", -1, None),
    ]


async def test_final_returns_value_and_saves_another(saver: Any, face: Face, config: dict) -> None:
    @entrypoint(checkpointer=saver)
    def doubler(n: int, *, previous: Any = None) -> entrypoint.final[int, int]:
        return entrypoint.final(value=previous or 0, save=2 * n)

    assert await face.invoke(doubler, 3, config) == 0
    assert await face.invoke(doubler, 1, config) == 6  # previous is the saved value, not 0
    assert await face.invoke(doubler, 5, config) == 2
    assert (await face.get_state(doubler, config)).values == 2  # the state is the returned value


async def test_update_state_sets_the_value_and_previous(saver: Any, face: Face, config: dict) -> None:
    @entrypoint(checkpointer=saver)
    def acc(n: int, *, previous: Any = None) -> int:
        return (previous or 0) + n

    await face.invoke(acc, 1, config)
    await face.update_state(acc, config, 100)
    snap = await face.get_state(acc, config)
    assert snap.values == 100 and snap.metadata["source"] == "update"
    assert await face.invoke(acc, 1, config) == 101


async def test_tasks_run_in_parallel(saver: Any, face: Face, config: dict) -> None:
    barrier = threading.Barrier(3, timeout=20)  # only passes when all three run at once

    @task
    def meet(i: int) -> int:
        barrier.wait()
        return i * 10

    @entrypoint(checkpointer=saver)
    def fan_out(n: int) -> list[int]:
        futures = [meet(i) for i in range(n)]
        return [f.result() for f in futures]

    assert await face.invoke(fan_out, 3, config) == [0, 10, 20]
    chunks = await face.stream(fan_out, 3, {"configurable": {"thread_id": config["configurable"]["thread_id"] + "b"}})
    assert sorted(map(str, chunks[:3])) == ["{'meet': 0}", "{'meet': 10}", "{'meet': 20}"]
    assert chunks[3:] == [{"fan_out": [0, 10, 20]}]


async def test_async_tasks_awaited_together(saver: Any, config: dict) -> None:
    import asyncio

    started = 0
    both = asyncio.Event()

    @task
    async def rendezvous(i: int) -> int:
        nonlocal started
        started += 1
        if started == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 20)  # only returns when both run at once
        return i + 1

    @task
    def plain(i: int) -> int:  # a sync task in an async run runs in a worker thread
        return -i

    @entrypoint(checkpointer=saver)
    async def gather(xs: list[int]) -> list[int]:
        got = await asyncio.gather(*(rendezvous(x) for x in xs))
        return [*got, await plain(7)]

    assert await gather.ainvoke([1, 2], config) == [2, 3, -7]


async def test_retry_policy_of_task_and_entrypoint_default(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()

    @task(retry_policy=RetryPolicy(max_attempts=3, **FAST))
    def flaky(x: int) -> int:
        runs["flaky"] += 1
        if runs["flaky"] < 3:
            raise ConnectionError("try again")
        return x

    @task
    def shaky(x: int) -> int:  # no policy of its own: the entrypoint's applies
        runs["shaky"] += 1
        if runs["shaky"] < 2:
            raise ConnectionError("once more")
        return x

    @task(retry_policy=RetryPolicy(max_attempts=5, retry_on=ConnectionError, **FAST))
    def broken(x: int) -> int:
        runs["broken"] += 1
        raise KeyError("not retried")

    @entrypoint(checkpointer=saver, retry_policy=RetryPolicy(max_attempts=2, **FAST))
    def wf(x: int) -> Any:
        try:
            broken(x).result()
        except KeyError as exc:
            caught = str(exc)
        return [flaky(x).result(), shaky(x).result(), caught]

    assert await face.invoke(wf, 4, config) == [4, 4, "'not retried'"]
    assert runs == Counter({"flaky": 3, "shaky": 2, "broken": 1})


async def test_interrupt_in_task_resume_runs_no_finished_task_again(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()

    @task
    def draft(topic: str) -> str:
        runs["draft"] += 1
        return f"An essay about {topic}"

    @task
    def review(essay: str) -> str:
        runs["review"] += 1
        return interrupt({"essay": essay, "question": "ok?"})

    @task
    def publish(essay: str, verdict: str) -> str:
        runs["publish"] += 1
        return f"{essay} [{verdict}]"

    @entrypoint(checkpointer=saver)
    def workflow(topic: str) -> str:
        essay = draft(topic).result()
        verdict = review(essay).result()
        return publish(essay, verdict).result()

    out = await face.invoke(workflow, "cats", config)
    [intr] = out["__interrupt__"]
    assert intr.value == {"essay": "An essay about cats", "question": "ok?"}
    snap = await face.get_state(workflow, config)
    assert snap.next == ("workflow",) and [i.value for i in snap.interrupts] == [intr.value]
    chunks = await face.stream(workflow, Command(resume="approved"), config)
    assert chunks == [{"review": "approved"}, {"publish": "An essay about cats [approved]"},
                      {"workflow": "An essay about cats [approved]"}]
    assert runs == Counter({"draft": 1, "review": 2, "publish": 1})
    assert (await face.get_state(workflow, config)).values == "An essay about cats [approved]"


async def test_interrupts_answered_in_order(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()

    @task
    def ask_name(_: Any) -> str:
        runs["ask_name"] += 1
        return interrupt("name?")

    @entrypoint(checkpointer=saver)
    def form(_: Any) -> dict:
        name = ask_name(None).result()
        age = interrupt("age?")
        city = interrupt("city?")
        return {"name": name, "age": age, "city": city}

    out = await face.invoke(form, "go", config)
    assert [i.value for i in out["__interrupt__"]] == ["name?"]
    out = await face.invoke(form, Command(resume="Ada"), config)
    assert [i.value for i in out["__interrupt__"]] == ["age?"]
    out = await face.invoke(form, Command(resume=36), config)
    assert [i.value for i in out["__interrupt__"]] == ["city?"]
    assert await face.invoke(form, Command(resume="London"), config) == {"name": "Ada", "age": 36, "city": "London"}
    assert runs["ask_name"] == 2  # asked, then answered once; later resumes reuse its result


async def test_parallel_interrupts_resumed_by_id(saver: Any, face: Face, config: dict) -> None:
    @task
    def ask(q: str) -> str:
        return interrupt(q)

    @entrypoint(checkpointer=saver)
    def both(qs: list[str]) -> list[str]:
        return [f.result() for f in [ask(q) for q in qs]]

    out = await face.invoke(both, ["a", "b"], config)
    assert [i.value for i in out["__interrupt__"]] == ["a"]
    with pytest.raises(AmbiguousResumeError):  # two tasks wait: say which answer is whose
        await face.invoke(both, Command(resume="?"), config)
    first = out["__interrupt__"][0]
    out = await face.invoke(both, Command(resume={first.id: "A"}), config)
    [second] = out["__interrupt__"]
    assert second.value == "b"
    assert await face.invoke(both, Command(resume={second.id: "B"}), config) == ["A", "B"]


async def test_failed_task_resumes_alone(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()
    fail = {"left": 1}

    @task
    def ok(x: int) -> int:
        runs["ok"] += 1
        return x + 1

    @task
    def fragile(x: int) -> int:
        runs["fragile"] += 1
        if fail["left"]:
            fail["left"] -= 1
            raise ValueError("disk on fire")
        return x * 2

    @entrypoint(checkpointer=saver)
    def wf(x: int) -> int:
        a = ok(x)
        b = fragile(x)
        return a.result() + b.result()

    with pytest.raises(ValueError, match="disk on fire"):
        await face.invoke(wf, 5, config)
    snap = await face.get_state(wf, config)
    assert snap.next == ("wf",) and "disk on fire" in str(snap.tasks[0].error)
    assert await face.invoke(wf, None, config) == 16
    assert runs == Counter({"ok": 1, "fragile": 2})


async def test_injected_arguments(saver: Any, face: Face, config: dict) -> None:
    from waypoint.store.memory import InMemoryStore

    store = InMemoryStore()

    @task
    def remember(fact: str, *, store: Any, config: dict) -> str:
        store.put(("facts",), config["configurable"]["thread_id"], {"fact": fact})
        return fact.upper()

    @entrypoint(checkpointer=saver, store=store)
    def wf(fact: str, *, writer: Any, runtime: Any, previous: Any = None) -> str:
        writer({"step": "remembering"})
        assert runtime.store is store and runtime.previous == previous
        return remember(fact).result()

    chunks = await face.stream(wf, "sky is blue", config, stream_mode=["custom", "updates"])
    assert chunks == [("custom", {"step": "remembering"}), ("updates", {"remember": "SKY IS BLUE"}),
                      ("updates", {"wf": "SKY IS BLUE"})]
    assert store.get(("facts",), config["configurable"]["thread_id"]).value == {"fact": "sky is blue"}


async def test_nested_tasks(saver: Any, face: Face, config: dict) -> None:
    runs: Counter = Counter()

    @task
    def leaf(x: int) -> int:
        runs["leaf"] += 1
        return x + 1

    @task
    def branch(x: int) -> int:
        runs["branch"] += 1
        return sum(f.result() for f in [leaf(x), leaf(x * 10)])

    @entrypoint(checkpointer=saver)
    def root(x: int) -> Any:
        total = branch(x).result()
        return [total, interrupt("done?")]

    await face.invoke(root, 1, config)
    assert await face.invoke(root, Command(resume="yes"), config) == [13, "yes"]
    assert runs == Counter({"branch": 1, "leaf": 2})


async def test_task_cache_policy_reuses_results_across_threads(saver: Any, face: Face, config: dict) -> None:
    from waypoint.cache.memory import InMemoryCache
    from waypoint.types import CachePolicy

    runs: Counter = Counter()
    cache = InMemoryCache()

    @task(cache_policy=CachePolicy(key_func=lambda x, *, unit="": f"{x}{unit}"))
    def expensive(x: int, *, unit: str = "") -> str:
        runs[(x, unit)] += 1
        return f"{x * 3}{unit}"

    @task
    def uncached(x: int) -> int:
        runs["uncached"] += 1
        return x

    @entrypoint(checkpointer=saver, cache=cache)
    def wf(xs: list[int]) -> list[Any]:
        return [f.result() for f in [expensive(x) for x in xs]] + [expensive(1, unit="m").result(), uncached(0).result()]

    tid = config["configurable"]["thread_id"]
    assert await face.invoke(wf, [1, 2], config) == ["3", "6", "3m", 0]
    other = {"configurable": {"thread_id": tid + "-2"}}
    chunks = await face.stream(wf, [2, 3], other)
    assert {"expensive": "6", "__metadata__": {"cached": True}} in chunks  # reused, not run
    assert {"expensive": "9"} in chunks
    assert runs == Counter({(1, ""): 1, (2, ""): 1, (3, ""): 1, (1, "m"): 1, "uncached": 2})
    expensive.clear_cache(cache)
    await face.invoke(wf, [2], {"configurable": {"thread_id": tid + "-3"}})
    assert runs[(2, "")] == 2


async def test_bad_arguments_are_named_errors() -> None:
    from waypoint.errors import InvalidGraphError, TaskCallError

    with pytest.raises(InvalidGraphError, match="CachePolicy"):
        task(cache_policy={"ttl": 5})(lambda x: x)
    with pytest.raises(InvalidGraphError, match="cache"):
        entrypoint(cache=object())
    with pytest.raises(InvalidGraphError, match="generator"):
        @entrypoint()
        def gen(x: int):
            yield x
    with pytest.raises(InvalidGraphError, match="one\\s+parameter"):
        entrypoint()(lambda: 1)

    @task
    def alone(x: int) -> int:
        return x

    with pytest.raises(TaskCallError, match="outside a running workflow"):
        alone(1)

    @task
    async def asynchronous(x: int) -> int:
        return x

    @entrypoint()
    def sync_wf(x: int) -> int:
        return asynchronous(x).result()

    with pytest.raises(TaskCallError, match="ainvoke"):
        await asyncio.to_thread(sync_wf.invoke, 1)


async def test_async_task_timeout_and_deprecated_names() -> None:
    import warnings

    from waypoint.errors import InvalidGraphError, NodeTimeoutError
    from waypoint.warnings import LangGraphDeprecatedSinceV05, LangGraphDeprecatedSinceV10

    attempts = Counter()

    @task(timeout=0.05, retry_policy=RetryPolicy(max_attempts=2, retry_on=NodeTimeoutError, **FAST))
    async def hangs(x: int) -> int:
        attempts["hangs"] += 1
        await asyncio.sleep(30)
        return x

    @entrypoint()
    async def wf(x: int) -> str:
        try:
            return str(await hangs(x))
        except NodeTimeoutError:
            return "timed out"

    assert await wf.ainvoke(1) == "timed out"
    assert attempts["hangs"] == 2  # the timeout is retried like any failure
    with pytest.raises(InvalidGraphError, match="sync"):
        task(timeout=1)(lambda x: x)
    with pytest.raises(TypeError, match="bogus"):
        entrypoint(bogus=1)
    with pytest.warns(LangGraphDeprecatedSinceV05):
        old = task(retry=RetryPolicy(max_attempts=4))(lambda x: x)
    assert old.retry_policy[0].max_attempts == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error", LangGraphDeprecatedSinceV05)
        with pytest.warns(LangGraphDeprecatedSinceV10):
            ep = entrypoint(config_schema=dict)
    assert ep.context_schema is dict


async def test_sync_code_calls_async_tasks_in_async_runs(saver: Any, config: dict) -> None:
    runs: Counter = Counter()

    @task
    async def fetch(x: int) -> int:
        runs["fetch"] += 1
        await asyncio.sleep(0)
        return x + 1

    @task
    def double_fetch(x: int) -> int:  # sync code in a worker thread awaiting an async task
        return fetch(x).result() * 2

    @entrypoint(checkpointer=saver)
    def wf(x: int) -> list[Any]:
        return [fetch(x).result(), double_fetch(x).result(), interrupt("ok?")]

    assert "__interrupt__" in await wf.ainvoke(1, config)
    assert await wf.ainvoke(Command(resume="y"), config) == [2, 4, "y"]
    assert runs["fetch"] == 2  # one call each from wf and double_fetch; none re-run on resume


async def test_graph_node_calling_tasks_saves_each_as_it_finishes(saver: Any, face: Face, config: dict) -> None:
    from typing import TypedDict

    from waypoint.graph import START, StateGraph

    runs: Counter = Counter()

    class S(TypedDict, total=False):
        xs: list[int]
        total: int

    @task
    def square(x: int) -> int:
        runs[x] += 1
        return x * x

    def node(state: S) -> dict:
        total = sum(f.result() for f in [square(x) for x in state["xs"]])
        return {"total": total if interrupt("ok?") else -1}

    graph = StateGraph(S).add_node("node", node).add_edge(START, "node").compile(checkpointer=saver)
    assert graph.inline_ok is False  # the node refers to a task: it never runs on the driver's thread
    chunks = await face.stream(graph, {"xs": [1, 2, 3]}, config)
    assert sorted(map(str, chunks[:3])) == ["{'square': 1}", "{'square': 4}", "{'square': 9}"]
    assert await face.invoke(graph, Command(resume=True), config) == {"xs": [1, 2, 3], "total": 14}
    assert runs == Counter({1: 1, 2: 1, 3: 1})
