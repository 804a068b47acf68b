"""The one guard every async backend uses to serve its sync face.

An async saver or store is bound to the event loop its client was opened on. Its sync methods
wait on that loop from another thread; called on the loop's own thread they would deadlock, so
they refuse with ``SyncOnEventLoopError`` instead — uniformly, for every method (LangGraph's
async PostgreSQL saver refuses ``list`` there but lets ``put`` deadlock).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

from waypoint.errors import ForkedConnectionError, SyncOnEventLoopError

T = TypeVar("T")


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None: what an async backend binds to when
    it is created (else its first async call binds it)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class LoopBound:
    """Mixin of an async backend: bound to the loop running when it was created, else to the
    loop of its first async call (``_bind_loop``); its sync face waits on that loop."""

    _loop: asyncio.AbstractEventLoop | None = None
    _pid = 0  # the process that opened the backend (set with ``loop``)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop this backend's client is bound to (None until its first call)."""
        return self._loop

    @loop.setter
    def loop(self, value: asyncio.AbstractEventLoop | None) -> None:
        self._loop = value
        self._pid = os.getpid()

    def _bind_loop(self) -> None:
        if self._pid and self._pid != os.getpid():
            raise ForkedConnectionError(
                f"this {type(self).__name__} was opened in another process (before a fork): its "
                "client belongs to the parent's event loop and connections; open the saver or "
                "store in the child process, inside the child's own event loop (e.g. 'async with "
                f"{type(self).__name__}.from_conn_string(...)' in the worker's startup)"
            )
        if self._loop is None:
            self.loop = asyncio.get_running_loop()

    def _loop_for(self, what: str) -> asyncio.AbstractEventLoop:
        """The bound loop, for the sync method ``what``; refuses if there is none yet."""
        if self.loop is None:
            raise SyncOnEventLoopError(
                f"{what}() is the sync face of {type(self).__name__}, an async backend not bound "
                "to an event loop yet: create it inside a running loop (e.g. 'async with "
                f"{type(self).__name__}.from_conn_string(...)'), or use its async methods there"
            )
        return self.loop


def _check(loop: asyncio.AbstractEventLoop, what: str) -> None:
    if running_loop() is loop:
        raise SyncOnEventLoopError(
            f"{what}() is the sync face of an async backend and was called on its own event "
            f"loop's thread, where it would deadlock: use 'await a{what}(...)' there, or call "
            f"{what}() from another thread"
        )
    if loop.is_closed() or not loop.is_running():
        raise SyncOnEventLoopError(
            f"{what}() needs the event loop this async backend was opened on to be running in "
            "another thread; use the async method instead"
        )


def wait(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], what: str) -> T:
    """Run ``coro`` on ``loop`` from a foreign thread and wait for its result."""
    try:
        _check(loop, what)
    except BaseException:
        coro.close()
        raise
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def iterate(loop: asyncio.AbstractEventLoop, agen: AsyncIterator[T], what: str) -> Iterator[T]:
    """Consume an async iterator on ``loop`` item by item from a foreign thread."""
    _check(loop, what)
    it = agen.__aiter__()

    async def step() -> tuple[bool, Any]:
        try:
            return True, await it.__anext__()
        except StopAsyncIteration:
            return False, None

    try:
        while True:
            ok, item = asyncio.run_coroutine_threadsafe(step(), loop).result()
            if not ok:
                return
            yield item
    finally:
        aclose = getattr(it, "aclose", None)
        if aclose is not None and not loop.is_closed() and loop.is_running():
            asyncio.run_coroutine_threadsafe(aclose(), loop).result()
