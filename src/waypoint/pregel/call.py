"""Tasks called from inside a running task (the functional API's ``@task``).

A call made while a task runs becomes a *called task* of the same step: its id is derived from
the step's checkpoint, the caller's path and the call's index in the caller (so a re-run of the
caller after an interrupt or a crash finds the same ids), it runs concurrently with its caller,
and its return value is saved as a pending ``__return__`` write as soon as it finishes. A
called task whose write is already saved is not run again: its caller gets the saved value.

The loop is only touched by the driver's thread (or event loop): a caller running elsewhere
posts ``(CALL, request, future)`` to the driver's queue; the driver creates the task, runs it
and settles the caller's future once the task's writes are queued for the saver (so the caller
never sees a result that is not on its way to the checkpoint). While the driver itself runs a
task inline (a graph step with a single task) nobody reads its queue, so calls from that task
start directly and their futures settle when they finish; the driver records them afterwards.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from contextvars import copy_context
from typing import TYPE_CHECKING, Any

from waypoint._process import task_pool
from waypoint.config import var_task
from waypoint.errors import GraphInterrupt, ParentCommand, TaskCallError
from waypoint.pregel import cache as _cache
from waypoint.pregel.algo import task_path_str
from waypoint.pregel.constants import NO_WRITES, PUSH, RETURN
from waypoint.pregel.node import PregelNode, Task, make_task_id
from waypoint.pregel.retry import arun_task, run_task

if TYPE_CHECKING:
    from waypoint.pregel.loop import Loop

CALL = object()  # queue tag: (CALL, (parent, node, args, kwargs, index), future)
DONE = object()  # queue tag: (DONE, task)


def is_call(task: Task) -> bool:
    """Whether ``task`` was started by a call from another task (not planned by the step)."""
    path = task.path
    return path[0] == PUSH and path[-1] is True


def call_result(task: Task) -> Any:
    return next((v for c, v in task.writes if c == RETURN), None)


def accept_call(loop: Loop, parent: Task, node: PregelNode, args: tuple, kwargs: dict, index: int) -> Task:
    """The task for call number ``index`` of ``parent`` (restored when its writes are saved)."""
    default = getattr(loop.graph, "retry_policy", None)
    if node.retry_policy is None and default:  # the workflow's policy for tasks without one
        node = _with_retry(node, default)
    prefix = (loop.checkpoint_id, loop.ns, loop.step + 1)
    tid = make_task_id(prefix, node.name, f"{PUSH}|{task_path_str(parent.path)}|{index}")
    path = (PUSH, parent.path, index, True)
    child = Task(loop, node, tid, path, (args, kwargs), (PUSH,), (2, parent.sort_key, index))
    if loop.records:
        loop._match_records([child])
    loop.tasks.append(child)
    loop.emit_task_starts([child])
    return child


def _with_retry(node: PregelNode, policy: Any) -> PregelNode:
    return PregelNode(node.name, triggers=node.triggers, func=node.func, afunc=node.afunc,
                      read=node.read, write=node.write, awrite=node.awrite, retry_policy=policy,
                      metadata=node.metadata)


def call_cache_key(loop: Loop, child: Task) -> Any:
    """The cache key of a called task when the workflow has a cache and the task (or the
    workflow) a cache policy; None otherwise. ``key_func`` gets the call's arguments."""
    if loop.cache is None:
        return None
    node = child.node
    policy = node.cache_policy or loop.graph.cache_policy
    if policy is None or node.cache_ns is None:
        return None
    args, kwargs = child.input
    return _cache.cache_key(policy, node.cache_ns, *args, **kwargs)


def _hit(task: Task, key: Any, found: dict[Any, Any]) -> bool:
    writes = found.get((key.ns, key.key))
    if writes is None:
        task.cache_key = key  # a miss: the result is cached when the task finishes
        return False
    task.writes = [tuple(w) for w in writes]
    task.done = True
    return True


def run_call(task: Task, key: Any) -> None:
    """Run a called task in a worker thread, or take its result from the cache."""
    if key is None or not _hit(task, key, _cache.lookup(task.loop.cache, [key])):
        run_task(task)


async def arun_call(task: Task, key: Any) -> None:
    if key is None or not _hit(task, key, await _cache.alookup(task.loop.cache, [key])):
        await arun_task(task)


def record(loop: Loop, task: Task) -> None:
    """Driver side of a finished called task (a cache hit is saved as restored writes)."""
    if task.done:
        loop._save_writes(task.id, task_path_str(task.path), task.writes or [(NO_WRITES, None)])
        loop.emit_cached_update(task)
    else:
        loop.task_done(task)


def settle(fut: Any, task: Task) -> None:
    """Give a called task's outcome to the future its caller holds."""
    if fut is None or fut.done():
        return
    if task.error is not None:
        fut.set_exception(task.error)
    elif task.interrupted:
        fut.set_exception(GraphInterrupt(task.interrupts))
    elif task.parent_command is not None:
        fut.set_exception(ParentCommand(task.parent_command))
    else:
        fut.set_result(call_result(task))


def call_task(node: PregelNode, args: tuple, kwargs: dict) -> Any:
    """Start ``node`` as a called task of the running task; returns its future."""
    parent = var_task.get()
    calls = getattr(parent.loop, "calls", None) if parent is not None else None
    if calls is None:
        raise TaskCallError(
            f"Task {node.name!r} was called outside a running workflow: call @task functions "
            "from inside an @entrypoint, another @task or a graph node"
        )
    return calls.call(parent, node, args, kwargs)


class SyncCalls:
    """Called tasks of a sync run: worker threads of the shared task pool."""

    def __init__(self, loop: Loop, q: Any) -> None:
        self.loop = loop
        self.q = q
        self.inline = False  # the driver's thread is running a task itself
        self.direct = 0  # tasks started directly while it did, not yet recorded
        self.lock = threading.Lock()

    def set_inline(self, inline: bool) -> None:
        with self.lock:
            self.inline = inline

    def call(self, parent: Task, node: PregelNode, args: tuple, kwargs: dict) -> Any:
        if node.func is None:
            raise TaskCallError(
                f"Task {node.name!r} is async and this run is sync: run the workflow with "
                "ainvoke()/astream(), or make the task a plain function"
            )
        index = parent.next_call()
        fut: concurrent.futures.Future = concurrent.futures.Future()
        request = (parent, node, args, kwargs, index)
        with self.lock:
            if self.inline:  # nobody reads the driver's queue now
                self.start(request, fut, direct=True)
                return fut
        self.q.put((CALL, request, fut))
        return fut

    def start(self, request: tuple, fut: Any, direct: bool = False) -> bool:
        """Create and start the task (driver thread); False when it was restored instead."""
        child = accept_call(self.loop, *request)
        if child.done:
            settle(fut, child)
            return False
        try:
            key = call_cache_key(self.loop, child)
        except Exception as exc:  # a failing key_func fails the call, not the run
            fut.set_exception(exc)
            return False
        child.future = fut
        child.direct = direct
        if direct:
            self.direct += 1
        done = task_pool().submit(copy_context().run, run_call, child, key)
        done.add_done_callback(lambda f, t=child: self._finished(t))
        return True

    def _finished(self, task: Task) -> None:
        if task.direct:
            settle(task.future, task)
        self.q.put((DONE, task))


class AsyncCalls:
    """Called tasks of an async run: asyncio tasks on the run's event loop (sync task functions
    run in the task pool)."""

    def __init__(self, loop: Loop, q: asyncio.Queue) -> None:
        self.loop = loop
        self.q = q
        self.ev_loop = asyncio.get_running_loop()
        self.inline = False  # the driver coroutine is running a task itself
        self.direct = 0
        self.running: list[asyncio.Task] = []

    def call(self, parent: Task, node: PregelNode, args: tuple, kwargs: dict) -> Any:
        index = parent.next_call()
        request = (parent, node, args, kwargs, index)
        try:
            on_loop = asyncio.get_running_loop() is self.ev_loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            fut: Any = self.ev_loop.create_future()
            if self.inline:
                self.start(request, fut, direct=True)
            else:
                self.q.put_nowait((CALL, request, fut))
            return fut
        fut = concurrent.futures.Future()  # a sync task running in a worker thread
        self.ev_loop.call_soon_threadsafe(self._post, request, fut)
        return fut

    def _post(self, request: tuple, fut: Any) -> None:
        if self.inline:  # the driver coroutine is busy running the caller's step
            self.start(request, fut, direct=True)
        else:
            self.q.put_nowait((CALL, request, fut))

    def start(self, request: tuple, fut: Any, direct: bool = False) -> bool:
        child = accept_call(self.loop, *request)
        if child.done:
            settle(fut, child)
            return False
        try:
            key = call_cache_key(self.loop, child)
        except Exception as exc:
            fut.set_exception(exc)
            return False
        child.future = fut
        child.direct = direct
        if direct:
            self.direct += 1
        running = asyncio.create_task(arun_call(child, key))
        running.add_done_callback(lambda f, t=child: self._finished(t))
        self.running.append(running)
        return True

    def _finished(self, task: Task) -> None:
        if task.direct:
            settle(task.future, task)
        self.q.put_nowait((DONE, task))

    def cancel(self) -> None:
        for running in self.running:
            running.cancel()
