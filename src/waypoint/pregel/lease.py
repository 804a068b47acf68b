"""One writer per thread, the engine's side: take the thread's lease before a run reads its
head, stamp every write of the run with it, keep it alive, release it at the end.

The saver does the work in one statement each (``waypoint.checkpoint.base.lease``); this module
only decides *when*. A root run takes the lease (a nested or subgraph run reuses its parent's,
found in the run's config under ``K_RUN_LEASE``); every write batch of the run carries it, and
each accepted batch renews it in the same transaction, so a busy run needs no extra statement
per step. A *heartbeat* renews it while nothing is written (a long node): one shared thread per
process for sync runs, one asyncio task per async run. Released at the end of the run (or left
to expire when the process dies: a SIGKILLed holder blocks the thread for at most ``ttl``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from waypoint._process import at_fork_in_child, task_pool
from waypoint.checkpoint.base.lease import Lease, supports_leases, with_lease
from waypoint.errors import ConfigError, LeaseLostError, ThreadBusyError
from waypoint.pregel.constants import CONF
from waypoint.types import LeasePolicy

if TYPE_CHECKING:
    from waypoint.pregel.loop import Loop

_log = logging.getLogger("waypoint")

K_RUN_LEASE = "__wp_run_lease"  # the RunLease of the root run, seen by its nested runs
CONFIG_KEY = "waypoint_lease"  # per-call policy: config["configurable"]["waypoint_lease"]

_POLL_FIRST, _POLL_MAX = 0.05, 1.0  # wait mode: first and longest pause between attempts
_IDLE = 1.0  # seconds the heartbeat thread sleeps between checks when nothing is due soon


DEFAULT_POLICY = LeasePolicy()


def check_policy(value: Any, where: str) -> LeasePolicy | None:
    """A lease setting as given to ``compile(lease=...)`` or in the config: a LeasePolicy,
    True/None (the default policy) or False (no lease)."""
    if value is None or value is True:
        return DEFAULT_POLICY
    if value is False:
        return None
    if isinstance(value, LeasePolicy):
        return value
    raise ConfigError(
        f"{where}={value!r}: use waypoint.types.LeasePolicy(...), or False to run without a lease"
    )


def _holder() -> str:
    """Who holds a lease: host, process and a per-run id (shown in ThreadBusyError)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class RunLease:
    """A run's lease on its thread: the saver it lives in, the current Lease, and when it is
    next due for a renewal."""

    def __init__(self, saver: Any, lease: Lease) -> None:
        self.saver = saver
        self.lease = lease
        self.lock = threading.Lock()
        self.released = False
        self.lost: BaseException | None = None
        self.renewing = False
        self.due = 0.0
        self.touch()

    def touch(self) -> None:
        """The lease was just renewed (by a write or the heartbeat)."""
        self.due = time.monotonic() + self.lease.ttl / 3

    def stamp(self, calls: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The queued saver calls, each config carrying the lease."""
        lease = self.lease
        return [(name, with_lease(cfg, lease), *rest) for name, cfg, *rest in calls]

    # --- renewals --------------------------------------------------------------------------

    def renew(self) -> None:
        """Heartbeat renewal (sync); a lost lease is remembered, the run's next write fails."""
        try:
            with self.lock:
                if self.released:
                    return
                self.lease = self.saver.renew_lease(self.lease)
                self.touch()
        except LeaseLostError as exc:
            self.lost = exc
        except Exception:  # a transient failure: try again soon
            self.due = time.monotonic() + min(1.0, self.lease.ttl / 10)
        finally:
            self.renewing = False
            _HEARTBEAT.wake()

    async def arenew(self) -> None:
        try:
            if not self.released:
                self.lease = await self.saver.arenew_lease(self.lease)
                self.touch()
        except LeaseLostError as exc:
            self.lost = exc
        except Exception:
            self.due = time.monotonic() + min(1.0, self.lease.ttl / 10)

    # --- release ---------------------------------------------------------------------------

    def release(self) -> None:
        _HEARTBEAT.remove(self)
        with self.lock:
            if self.released:
                return
            self.released = True
            if self.lost is None:
                self.saver.release_lease(self.lease)

    async def arelease(self, beat: asyncio.Task[None] | None) -> None:
        if beat is not None:
            beat.cancel()
            try:
                await beat
            except asyncio.CancelledError:
                pass
        if self.released:
            return
        self.released = True
        if self.lost is None:
            await self.saver.arelease_lease(self.lease)


# --- acquiring ---------------------------------------------------------------------------------


def _policy(graph: Any, conf: dict[str, Any]) -> LeasePolicy | None:
    if CONFIG_KEY in conf:
        return check_policy(conf[CONFIG_KEY], f"config['configurable'][{CONFIG_KEY!r}]")
    return getattr(graph, "lease_policy", DEFAULT_POLICY)


def inherited(loop: Loop) -> RunLease | None:
    """The lease a nested run writes under: its parent run's, when both use one saver."""
    run = (loop.config.get(CONF) or {}).get(K_RUN_LEASE)
    if run is not None and run.saver is loop.checkpointer and not run.released:
        return run
    return None


def _wanted(graph: Any, loop: Loop) -> LeasePolicy | None:
    """The policy of a root run that must take a lease (None: no lease of its own)."""
    saver = loop.checkpointer
    if not saver or loop.is_subgraph or not supports_leases(saver):
        return None
    return _policy(graph, loop.config.get(CONF) or {})


def _attach(loop: Loop, run: RunLease, beat: asyncio.Task[None] | None) -> None:
    loop.lease = run
    loop.lease_owned = (run, beat)
    conf = loop.config.get(CONF) or {}
    loop.config = {**loop.config, CONF: {**conf, K_RUN_LEASE: run}}


def _pause(delay: float, exc: ThreadBusyError, left: float) -> float:
    return max(0.0, min(delay * random.uniform(0.5, 1.0), exc.retry_after + 0.01, left))


def acquire(saver: Any, thread_id: str, policy: LeasePolicy) -> RunLease:
    """Acquire ``thread_id``'s lease under ``policy`` (retrying while busy in wait mode)."""
    holder, start, delay = _holder(), time.monotonic(), _POLL_FIRST
    while True:
        try:
            return RunLease(saver, saver.acquire_lease(thread_id, holder, float(policy.ttl)))
        except ThreadBusyError as exc:
            left = start + policy.wait_timeout - time.monotonic()
            if policy.on_busy == "reject" or left <= 0:
                raise
            time.sleep(_pause(delay, exc, left))
            delay = min(delay * 1.5, _POLL_MAX)


async def aacquire(saver: Any, thread_id: str, policy: LeasePolicy) -> RunLease:
    """Async twin of :func:`acquire`."""
    holder, start, delay = _holder(), time.monotonic(), _POLL_FIRST
    while True:
        try:
            return RunLease(saver, await saver.aacquire_lease(thread_id, holder, float(policy.ttl)))
        except ThreadBusyError as exc:
            left = start + policy.wait_timeout - time.monotonic()
            if policy.on_busy == "reject" or left <= 0:
                raise
            await asyncio.sleep(_pause(delay, exc, left))
            delay = min(delay * 1.5, _POLL_MAX)


def take_lease(graph: Any, loop: Loop) -> None:
    """Before a run reads its thread: acquire the lease of a root run (sync), waiting if its
    policy says so; a nested run writes under its parent's."""
    policy = _wanted(graph, loop)
    if policy is None:
        loop.lease = inherited(loop)
        return
    run = acquire(loop.checkpointer, str(loop.thread_id), policy)
    _attach(loop, run, None)
    _HEARTBEAT.add(run)


async def atake_lease(graph: Any, loop: Loop) -> None:
    """Async twin of :func:`take_lease`; the heartbeat is a task of the run's event loop."""
    policy = _wanted(graph, loop)
    if policy is None:
        loop.lease = inherited(loop)
        return
    run = await aacquire(loop.checkpointer, str(loop.thread_id), policy)
    _attach(loop, run, asyncio.create_task(_abeat(run)))


def _update_lease(graph: Any, saver: Any, config: dict[str, Any]) -> tuple[RunLease | None, LeasePolicy | None]:
    """For update_state: the lease of the run it is called from (same thread and saver), or
    the policy of the short lease it takes itself (None: no lease)."""
    conf = config.get(CONF) or {}
    run = conf.get(K_RUN_LEASE)
    if run is not None and run.saver is saver and run.lease.thread_id == str(conf.get("thread_id")) and not run.released:
        return run, None
    if not supports_leases(saver):
        return None, None
    return None, _policy(graph, conf)


@contextlib.contextmanager
def updating(graph: Any, saver: Any, config: dict[str, Any]) -> Iterator[RunLease | None]:
    """The lease update_state / bulk_update_state write under: the calling run's, or a short
    one of their own, released when they are done."""
    run, policy = _update_lease(graph, saver, config)
    if run is not None or policy is None:
        yield run
        return
    run = acquire(saver, str(config[CONF]["thread_id"]), policy)
    try:
        yield run
    finally:
        run.release()


@contextlib.asynccontextmanager
async def aupdating(graph: Any, saver: Any, config: dict[str, Any]) -> AsyncIterator[RunLease | None]:
    """Async twin of :func:`updating`."""
    run, policy = _update_lease(graph, saver, config)
    if run is not None or policy is None:
        yield run
        return
    run = await aacquire(saver, str(config[CONF]["thread_id"]), policy)
    try:
        yield run
    finally:
        await run.arelease(None)


def end_lease(loop: Loop) -> None:
    """At the end of a run that took its lease: release it. A failed release is logged, not
    raised (the lease then expires by itself after its ttl)."""
    owned, loop.lease_owned = loop.lease_owned, None
    if owned is None:
        return
    try:
        owned[0].release()
    except Exception:
        _log.warning("could not release the lease on thread %r; it expires by itself", owned[0].lease.thread_id, exc_info=True)


async def aend_lease(loop: Loop) -> None:
    """Async twin of :func:`end_lease`."""
    owned, loop.lease_owned = loop.lease_owned, None
    if owned is None:
        return
    try:
        await owned[0].arelease(owned[1])
    except Exception:
        _log.warning("could not release the lease on thread %r; it expires by itself", owned[0].lease.thread_id, exc_info=True)


async def _abeat(run: RunLease) -> None:
    """The heartbeat of an async run: renew whenever no write renewed the lease lately."""
    while not run.released and run.lost is None:
        wait = run.due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
            continue
        await run.arenew()


class _Heartbeat:
    """One thread per process renewing the leases of sync runs that are due (the renewal
    itself runs in the task pool, so one slow database never delays another's)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.runs: weakref.WeakSet[RunLease] = weakref.WeakSet()
        self.thread: threading.Thread | None = None
        self.wake_at = 0.0  # when the heartbeat thread wakes next by itself

    def add(self, run: RunLease) -> None:
        with self.cond:
            self.runs.add(run)
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="waypoint-lease-heartbeat", daemon=True)
                self.thread.start()
            if run.due < self.wake_at:  # waking the thread costs the run a GIL hand-off
                self.cond.notify()

    def wake(self) -> None:
        """Recompute the next due time (a renewal finished)."""
        with self.cond:
            self.cond.notify()

    def remove(self, run: RunLease) -> None:
        with self.cond:
            self.runs.discard(run)

    def _loop(self) -> None:
        while True:
            with self.cond:
                now = time.monotonic()
                due = [r for r in self.runs if not r.renewing and r.due <= now]
                for r in due:
                    r.renewing = True
                waiting = [r.due for r in self.runs if not r.renewing]
                if not due:
                    timeout = max(0.01, min(waiting) - now) if waiting else _IDLE
                    self.wake_at = now + timeout
                    self.cond.wait(timeout=timeout)
                    self.wake_at = 0.0
                    continue
            for r in due:
                task_pool().submit(r.renew)

    def reset(self) -> None:
        """In a forked child: the parent's heartbeat thread does not exist here."""
        self.cond = threading.Condition()
        self.wake_at = 0.0
        self.runs = weakref.WeakSet()
        self.thread = None


_HEARTBEAT = _Heartbeat()
at_fork_in_child(_HEARTBEAT, _Heartbeat.reset)


__all__ = [
    "CONFIG_KEY",
    "K_RUN_LEASE",
    "LeasePolicy",
    "RunLease",
    "aacquire",
    "acquire",
    "aend_lease",
    "aupdating",
    "atake_lease",
    "check_policy",
    "end_lease",
    "take_lease",
    "updating",
]
