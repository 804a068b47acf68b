"""Functional-API programs (``@entrypoint`` / ``@task``), written once against LangGraph's API and
run with ``langgraph`` imports and with the prefix changed to ``waypoint``: the printed output
must be the same (uuids normalised)."""

from __future__ import annotations

import pytest

from tests.compat.test_programs import _run

ESSAY_REVIEW = '''
from typing import Any
from LIB.checkpoint.memory import InMemorySaver
from LIB.func import entrypoint, task
from LIB.types import Command, interrupt

calls = []

@task
def outline(topic: str) -> list[str]:
    calls.append("outline")
    return [f"{topic}: intro", f"{topic}: body", f"{topic}: end"]

@task
def write_section(heading: str) -> str:
    calls.append("write_section")
    return heading.upper()

@task
def human_review(essay: str) -> str:
    calls.append("human_review")
    return interrupt({"question": "Approve this essay?", "essay": essay})

@entrypoint(checkpointer=InMemorySaver())
def essay_workflow(topic: str, *, previous: Any = None) -> entrypoint.final[dict, int]:
    sections = [f.result() for f in [write_section(h) for h in outline(topic).result()]]
    essay = " / ".join(sections)
    verdict = human_review(essay).result()
    published = (previous or 0) + (verdict == "approve")
    return entrypoint.final(value={"essay": essay, "verdict": verdict, "published": published}, save=published)

config = {"configurable": {"thread_id": "essay-1"}}
for chunk in essay_workflow.stream("cats", config):
    if "__interrupt__" in chunk:
        print("interrupt", [i.value for i in chunk["__interrupt__"]])
    else:
        print("stream", sorted(chunk.items()) if "write_section" not in chunk else "section")
snap = essay_workflow.get_state(config)
print("paused", snap.next, snap.values, [i.value for i in snap.interrupts], snap.metadata["step"])
for chunk in essay_workflow.stream(Command(resume="approve"), config):
    print("resumed", chunk)
print("calls", calls)
print(essay_workflow.invoke("dogs", config)["__interrupt__"][0].value["essay"])
print(essay_workflow.invoke(Command(resume="approve"), config))
print([(s.metadata["source"], s.metadata["step"], s.next) for s in essay_workflow.get_state_history(config)])
print(essay_workflow.get_state(config).values)
'''

ASYNC_FAN_OUT = '''
import asyncio
from dataclasses import dataclass
from LIB.checkpoint.memory import InMemorySaver
from LIB.func import entrypoint, task
from LIB.runtime import Runtime
from LIB.store.memory import InMemoryStore
from LIB.types import RetryPolicy

@dataclass
class Ctx:
    user: str

attempts = {"n": 0}

@task
async def score(doc: str) -> int:
    await asyncio.sleep(0.001 * len(doc))
    return len(doc)

@task(retry_policy=RetryPolicy(max_attempts=3, initial_interval=0.001, jitter=False))
def flaky_summary(total: int) -> str:
    attempts["n"] += 1
    if attempts["n"] < 2:
        raise ConnectionError("service hiccup")
    return f"total={total}"

@entrypoint(checkpointer=InMemorySaver(), store=InMemoryStore(), context_schema=Ctx)
async def ranker(docs: list[str], *, runtime: Runtime[Ctx], previous=None) -> dict:
    runtime.stream_writer({"ranking_for": runtime.context.user})
    scores = await asyncio.gather(*(score(d) for d in docs))
    summary = await flaky_summary(sum(scores))
    runtime.store.put(("runs", runtime.context.user), "last", {"summary": summary})
    return {"scores": list(scores), "summary": summary, "runs": (previous or {}).get("runs", 0) + 1}

async def main():
    config = {"configurable": {"thread_id": "rank"}}
    chunks = [c async for c in ranker.astream(["a", "bbb", "cc"], config, context=Ctx(user="ann"), stream_mode=["custom", "updates"])]
    print(sorted(map(repr, chunks)))
    print(await ranker.ainvoke(["dddd"], config, context={"user": "bo"}))
    print(attempts, ranker.store.get(("runs", "bo"), "last").value)
    state = await ranker.aget_state(config)
    print(state.values, state.next, state.metadata["step"])

asyncio.run(main())
'''


@pytest.mark.parametrize("program", [ESSAY_REVIEW, ASYNC_FAN_OUT], ids=["essay-review-interrupt", "async-fan-out-retry"])
def test_functional_program_same_output_as_langgraph(program: str) -> None:
    theirs = _run(program, "langgraph")
    ours = _run(program, "waypoint")
    assert ours == theirs
    assert theirs.strip()
