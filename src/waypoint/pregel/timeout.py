"""Running one attempt of an async node under its ``TimeoutPolicy``.

The node runs as its own asyncio task next to one watchdog per limit: the run watchdog
sleeps ``run_timeout``; the idle watchdog sleeps until ``idle_timeout`` has passed since the
last progress (``Attempt.touch``: ``runtime.heartbeat()``; with ``refresh_on="auto"`` also custom
stream writes and LangChain callback events of the node's runs). Whichever finishes first wins: the node's result, or the
node is cancelled and the attempt fails with ``NodeTimeoutError``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from waypoint import _langchain
from waypoint.errors import NodeTimeoutError


class Attempt:
    """Progress of one timed attempt (``runtime.heartbeat()`` and, with
    ``refresh_on="auto"``, custom stream writes call ``touch``)."""

    __slots__ = ("last", "auto", "active")

    def __init__(self, auto: bool) -> None:
        self.last = time.monotonic()
        self.auto = auto
        self.active = True

    def touch(self) -> None:
        self.last = time.monotonic()

    async def idle(self, limit: float) -> None:
        while self.active:
            left = self.last + limit - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(left)


async def run_timed(node: Any, task: Any) -> Any:
    """``node.afunc(task.input, task)`` under ``node.timeout``."""
    policy = node.timeout
    attempt = Attempt(policy.refresh_on == "auto")
    task.progress = attempt
    start = time.monotonic()
    if attempt.auto and _langchain.loaded():  # LangChain callback events are progress too
        call = _langchain.acall_with_progress(node.afunc, task.input, task, attempt.touch)
    else:
        call = node.afunc(task.input, task)
    work = asyncio.ensure_future(call)
    watchdogs: dict[asyncio.Future[Any], str] = {}
    if policy.idle_timeout is not None:
        watchdogs[asyncio.ensure_future(attempt.idle(policy.idle_timeout))] = "idle"
    if policy.run_timeout is not None:
        watchdogs[asyncio.ensure_future(asyncio.sleep(policy.run_timeout))] = "run"
    try:
        done, _ = await asyncio.wait({work, *watchdogs}, return_when=asyncio.FIRST_COMPLETED)
        if work in done:
            return work.result()
        kind = watchdogs[next(iter(done))]
        work.cancel()
        raise NodeTimeoutError(
            task.name, time.monotonic() - start, kind=kind,
            idle_timeout=policy.idle_timeout, run_timeout=policy.run_timeout,
        )
    except asyncio.CancelledError:
        work.cancel()
        raise
    finally:
        attempt.active = False
        task.progress = None
        for w in watchdogs:
            w.cancel()
