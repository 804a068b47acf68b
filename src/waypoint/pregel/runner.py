"""The I/O edges of the engine: sync and async drivers for a ``Loop``.

Each driver runs the planned tasks concurrently (a thread pool for sync runs, asyncio tasks
for async runs), hands every finished task to the loop at once, and performs the loop's queued
saver calls with the run's durability: ``sync`` waits for each call, ``async`` runs them in
order in the background (a checkpoint is always stored before the writes made against it),
``exit`` only queues them at the end of the run. Calls queued together go to the saver as one
``put_batch`` (one transaction for the SQL backends).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextvars import copy_context
from typing import Any

from waypoint.pregel import cache as _cache
from waypoint.pregel.call import CALL, DONE as _DONE, AsyncCalls, SyncCalls, is_call, record, settle
from waypoint.errors import LeaseLostError
from waypoint.pregel.lease import aend_lease, end_lease
from waypoint.pregel.loop import Loop
from waypoint.pregel.node import Task
from waypoint._process import task_pool
from waypoint.pregel.retry import arun_task, run_task


class SyncIO:
    """Performs saver calls from sync runs."""

    def __init__(self, saver: Any, durability: str, lease: Any = None) -> None:
        self.saver = saver
        self.background = durability == "async"
        self.lease = lease  # a RunLease: every batch carries it and renews it
        self._queue: deque[tuple[Any, ...]] = deque()
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._running = False
        self._error: BaseException | None = None

    def _do(self, batch: list[tuple[Any, ...]]) -> None:
        lease = self.lease
        if lease is None:
            self.saver.put_batch(batch)
            return
        try:
            self.saver.put_batch(lease.stamp(batch))
        except LeaseLostError as exc:
            lease.lost = exc
            raise
        lease.touch()

    def submit(self, ops: list[tuple[Any, ...]]) -> None:
        if not ops:
            return
        batch = list(ops)
        ops.clear()
        if not self.background:
            self._do(batch)
            return
        with self._lock:
            if self._error is not None:
                raise self._error
            self._queue.extend(batch)
            if self._running:
                return
            self._running = True
            self._idle.clear()
        task_pool().submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._running = False
                    self._idle.set()
                    return
                batch = list(self._queue)  # everything queued so far: one saver round trip
                self._queue.clear()
            if self._error is None:
                try:
                    self._do(batch)
                except BaseException as exc:  # surfaced by flush()
                    self._error = exc

    def flush(self) -> None:
        self._idle.wait()
        if self._error is not None:
            err, self._error = self._error, None
            raise err


class AsyncIO:
    """Performs saver calls from async runs."""

    def __init__(self, saver: Any, durability: str, lease: Any = None) -> None:
        self.saver = saver
        self.background = durability == "async"
        self.lease = lease
        self._queue: deque[tuple[Any, ...]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    async def _do(self, batch: list[tuple[Any, ...]]) -> None:
        lease = self.lease
        if lease is None:
            await self.saver.aput_batch(batch)
            return
        try:
            await self.saver.aput_batch(lease.stamp(batch))
        except LeaseLostError as exc:
            lease.lost = exc
            raise
        lease.touch()

    async def submit(self, ops: list[tuple[Any, ...]]) -> None:
        if not ops:
            return
        batch = list(ops)
        ops.clear()
        if not self.background:
            await self._do(batch)
            return
        if self._error is not None:
            raise self._error
        self._queue.extend(batch)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._queue:
            batch = list(self._queue)  # everything queued so far: one saver round trip
            self._queue.clear()
            if self._error is None:
                try:
                    await self._do(batch)
                except BaseException as exc:
                    self._error = exc

    async def flush(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
        if self._error is not None:
            err, self._error = self._error, None
            raise err


def _drain_queue(q: queue.SimpleQueue) -> Iterator[Any]:
    while True:
        try:
            yield q.get_nowait()
        except queue.Empty:
            return


def drive(loop: Loop, io: SyncIO | None, q: queue.SimpleQueue, realtime: bool) -> Iterator[Any]:
    """Run ``loop`` to its end in this thread, yielding stream items as they arrive."""
    outbox = loop.outbox
    calls = loop.calls = SyncCalls(loop, q)
    realtime = realtime or not loop.graph.inline_ok
    try:
        if io is not None:
            io.submit(outbox)
        yield from _drain_queue(q)
        while loop.tick():
            if loop.cache_wanted:
                loop.cache_hits(_cache.lookup(loop.cache, [t.cache_key for t in loop.cache_wanted]))
            if io is not None:
                io.submit(outbox)
            yield from _drain_queue(q)
            todo = [t for t in loop.tasks if not t.done]
            if len(todo) == 1 and not realtime:
                calls.set_inline(True)
                try:
                    run_task(todo[0])
                finally:
                    calls.set_inline(False)
                loop.task_done(todo[0])
                if io is not None:
                    io.submit(outbox)
                if calls.direct:  # tasks the inline task called: record them
                    yield from _collect(loop, io, q, calls, 0)
            elif todo:
                yield from _run_concurrently(loop, io, q, todo, realtime)
            while loop.handlers:  # error handlers of the step's failed tasks
                handler = loop.handlers.pop(0)
                run_task(handler)
                loop.task_done(handler)
                if io is not None:
                    io.submit(outbox)
            loop.after_tick()
            if loop.cache_out:
                _cache.store(loop.cache, loop.cache_out)
                loop.cache_out.clear()
            if io is not None:
                io.submit(outbox)
            yield from _drain_queue(q)
            if loop.status != "pending":
                break
    finally:
        if loop.cache_out:
            _cache.store(loop.cache, loop.cache_out)
            loop.cache_out.clear()
        loop.finish()
        if io is not None:
            try:
                io.submit(outbox)
                io.flush()
            finally:
                end_lease(loop)
    yield from _drain_queue(q)


def _run_concurrently(
    loop: Loop, io: SyncIO | None, q: queue.SimpleQueue, todo: list[Task], realtime: bool
) -> Iterator[Any]:
    calls: SyncCalls = loop.calls
    inline = None if realtime else todo[0]
    for t in todo:
        if t is inline:
            continue
        fut = task_pool().submit(copy_context().run, run_task, t)
        fut.add_done_callback(lambda f, t=t: q.put((_DONE, t)))
    remaining = len(todo)
    if inline is not None:
        calls.set_inline(True)
        try:
            run_task(inline)
        finally:
            calls.set_inline(False)
        loop.task_done(inline)
        remaining -= 1
        if io is not None:
            io.submit(loop.outbox)
    yield from _collect(loop, io, q, calls, remaining)


def _collect(
    loop: Loop, io: SyncIO | None, q: queue.SimpleQueue, calls: SyncCalls, remaining: int
) -> Iterator[Any]:
    """Record finished tasks until ``remaining`` running tasks (and every task they called)
    are done, starting the tasks they call; yields stream items meanwhile."""
    with calls.lock:
        remaining += calls.direct
        calls.direct = 0
    while remaining:
        item = q.get()
        if type(item) is tuple and item[0] is _DONE:
            task = item[1]
            record(loop, task)
            remaining -= 1
            if io is not None:
                io.submit(loop.outbox)
            if not task.direct and is_call(task):
                settle(task.future, task)  # after its writes are queued for the saver
        elif type(item) is tuple and item[0] is CALL:
            if calls.start(item[1], item[2]):
                remaining += 1
            if io is not None:
                io.submit(loop.outbox)
        else:
            yield item


async def adrive(
    loop: Loop, io: AsyncIO | None, q: asyncio.Queue, realtime: bool
) -> AsyncIterator[Any]:
    """Async twin of ``drive``."""
    outbox = loop.outbox
    calls = loop.calls = AsyncCalls(loop, q)
    realtime = realtime or not loop.graph.inline_ok
    try:
        if io is not None:
            await io.submit(outbox)
        while not q.empty():
            yield q.get_nowait()
        while loop.tick():
            if loop.cache_wanted:
                loop.cache_hits(await _cache.alookup(loop.cache, [t.cache_key for t in loop.cache_wanted]))
            if io is not None:
                await io.submit(outbox)
            while not q.empty():
                yield q.get_nowait()
            todo = [t for t in loop.tasks if not t.done]
            remaining = 0
            running = []
            if len(todo) == 1 and not realtime:
                calls.inline = True
                try:
                    await arun_task(todo[0])
                finally:
                    calls.inline = False
                loop.task_done(todo[0])
                if io is not None:
                    await io.submit(outbox)
                remaining, calls.direct = calls.direct, 0
            elif todo:
                for t in todo:
                    fut = asyncio.create_task(arun_task(t))
                    fut.add_done_callback(lambda f, t=t: q.put_nowait((_DONE, t)))
                    running.append(fut)
                remaining = len(todo)
            try:
                while remaining:
                    item = await q.get()
                    if type(item) is tuple and item[0] is _DONE:
                        task = item[1]
                        record(loop, task)
                        remaining -= 1
                        if io is not None:
                            await io.submit(outbox)
                        if not task.direct and is_call(task):
                            settle(task.future, task)
                    elif type(item) is tuple and item[0] is CALL:
                        if calls.start(item[1], item[2]):
                            remaining += 1
                        if io is not None:
                            await io.submit(outbox)
                    else:
                        yield item
            except BaseException:
                for fut in running:
                    fut.cancel()
                calls.cancel()
                raise
            while loop.handlers:  # error handlers of the step's failed tasks
                handler = loop.handlers.pop(0)
                await arun_task(handler)
                loop.task_done(handler)
                if io is not None:
                    await io.submit(outbox)
            loop.after_tick()
            if loop.cache_out:
                await _cache.astore(loop.cache, loop.cache_out)
                loop.cache_out.clear()
            if io is not None:
                await io.submit(outbox)
            while not q.empty():
                yield q.get_nowait()
            if loop.status != "pending":
                break
    finally:
        if loop.cache_out:
            await _cache.astore(loop.cache, loop.cache_out)
            loop.cache_out.clear()
        loop.finish()
        if io is not None:
            try:
                await io.submit(outbox)
                await io.flush()
            finally:
                await aend_lease(loop)
    while not q.empty():
        yield q.get_nowait()


def async_sink(q: asyncio.Queue) -> Any:
    """A sink usable from the event loop's thread and from worker threads."""
    ev_loop = asyncio.get_running_loop()
    owner = threading.get_ident()

    def put(item: Any) -> None:
        if threading.get_ident() == owner:
            q.put_nowait(item)
        else:
            ev_loop.call_soon_threadsafe(q.put_nowait, item)

    return put
