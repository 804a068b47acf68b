"""Running one task: call the node, map its output to writes, classify failures, retry.

The sync and async runners share everything but the waiting: ``run_task`` and
``arun_task`` differ only in how they call the node and how they sleep.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from contextvars import copy_context
from typing import Any

from waypoint._process import task_pool
from waypoint.config import var_task
from waypoint.errors import GraphDrained, GraphInterrupt, NodeInterrupt, ParentCommand
from waypoint.pregel.node import Task, interrupt_id
from waypoint.pregel.timeout import run_timed
from waypoint.types import Command, Interrupt, RetryPolicy



def _matches(policy: RetryPolicy, exc: Exception) -> bool:
    retry_on = policy.retry_on
    if isinstance(retry_on, type) and issubclass(retry_on, BaseException):
        return isinstance(exc, retry_on)
    if isinstance(retry_on, Sequence):
        return isinstance(exc, tuple(retry_on))
    return bool(retry_on(exc))


def retry_delay(policies: Any, attempt: int, exc: Exception) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None when the error is final."""
    if policies is None:
        return None
    if isinstance(policies, RetryPolicy):
        policies = (policies,)
    for policy in policies:
        if _matches(policy, exc):
            if attempt + 1 >= policy.max_attempts:
                return None
            interval = min(policy.max_interval, policy.initial_interval * policy.backoff_factor**attempt)
            return interval + random.uniform(0, interval) if policy.jitter else interval
    return None


def _as_own_output(cmd: Command) -> Command:
    """A Command(graph=PARENT) raised by a subgraph, as this graph's node output."""
    return Command(update=cmd.update, goto=cmd.goto, resume=cmd.resume)


def _fail(task: Task, exc: BaseException, attempt: int) -> float | None:
    """Classify an exception; returns a retry delay or None once the task has an outcome."""
    if isinstance(exc, NodeInterrupt):  # the older explicit form: NodeInterrupt(value)
        value = exc.args[0] if exc.args else None
        task.interrupts = (Interrupt(value=value, id=interrupt_id(task.ns, task.icount)),)
        task.interrupted = True
        return None
    if isinstance(exc, GraphInterrupt):
        task.interrupts = exc.interrupts
        task.interrupted = True
        return None
    if isinstance(exc, ParentCommand):
        task.parent_command = exc.command
        return None
    if isinstance(exc, GraphDrained):  # a subgraph drained: this run drains too, no retry
        task.error = exc
        return None
    if isinstance(exc, Exception):
        delay = retry_delay(task.node.retry_policy, attempt, exc)
        if delay is not None:
            task.reset()
            return delay
    task.error = exc
    return None


def run_task(task: Task) -> None:
    """Run a task to an outcome (writes, interrupts, error or parent command); never raises
    an Exception."""
    node = task.node
    attempt = 0
    while True:
        token = var_task.set(task)
        try:
            if node.func is None:
                raise TypeError(
                    f"Node {task.name!r} is async-only: run the graph with ainvoke()/astream()"
                )
            try:
                out = node.func(task.input, task)
            except ParentCommand as pc:
                out = _as_own_output(pc.command)
            task.output = out
            node.write(task, out)
            return
        except BaseException as exc:
            delay = _fail(task, exc, attempt)
            if delay is None:
                return
        finally:
            var_task.reset(token)
        time.sleep(delay)
        attempt += 1


async def arun_task(task: Task) -> None:
    """Async twin of ``run_task``: async nodes are awaited, sync nodes run in a thread."""
    node = task.node
    attempt = 0
    while True:
        token = var_task.set(task)
        try:
            try:
                if node.afunc is not None:
                    if node.timeout is not None:
                        out = await run_timed(node, task)
                    else:
                        out = await node.afunc(task.input, task)
                else:
                    ctx = copy_context()
                    out = await asyncio.get_running_loop().run_in_executor(
                        task_pool(), ctx.run, node.func, task.input, task
                    )
            except ParentCommand as pc:
                out = _as_own_output(pc.command)
            task.output = out
            if node.awrite is not None:
                await node.awrite(task, out)
            else:
                node.write(task, out)
            return
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            delay = _fail(task, exc, attempt)
            if delay is None:
                return
        finally:
            var_task.reset(token)
        await asyncio.sleep(delay)
        attempt += 1
