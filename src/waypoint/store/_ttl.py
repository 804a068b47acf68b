"""Time-to-live rules and the background sweeper, shared by every store backend.

An item's TTL is a number of minutes (``put(..., ttl=...)``, or ``ttl_config["default_ttl"]``
when the put does not say). Its expiry is ``now + ttl``; from that instant the item is invisible
to ``get``, ``search`` and ``list_namespaces``, even before a sweep deletes it. Reads never
delete; :meth:`sweep_ttl` (or the sweeper) does, and returns how many items it removed.

A read with refresh (``refresh_ttl=True``, or ``ttl_config["refresh_on_read"]``, default True)
moves the expiry of each item it *returns* to ``now + ttl`` using the item's own stored TTL;
items without a TTL are untouched. Backends therefore store ``(expires_at, ttl_minutes)`` per
item.

The sweeper calls the store's sweep every ``sweep_interval_minutes``: :class:`ThreadSweeper`
for stores with a sync core (a daemon thread; ``start`` returns a ``concurrent.futures.Future``)
and :class:`TaskSweeper` for natively async stores (an ``asyncio.Task``). Both hold the store
weakly so a forgotten sweeper never keeps a store alive. Stores get ``start_ttl_sweeper`` /
``stop_ttl_sweeper`` from :class:`ThreadSweeping` or :class:`TaskSweeping`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import weakref
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Mapping, TypeVar

from waypoint._bridge import running_loop, wait
from waypoint.errors import ConfigError

logger = logging.getLogger("waypoint.store")

S = TypeVar("S")

DEFAULT_SWEEP_INTERVAL_MINUTES = 60.0
"""Sweep period when neither the call nor ``ttl_config`` gives one."""


class NotProvided:
    """Type of :data:`NOT_PROVIDED`: "argument not given" as distinct from ``None``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_PROVIDED"

    def __bool__(self) -> bool:
        return False


NOT_PROVIDED = NotProvided()
"""Default of ``put(ttl=...)``: use the store's ``default_ttl``; ``None`` means never expire."""


def utcnow() -> datetime:
    """The default store clock: aware UTC now."""
    return datetime.now(timezone.utc)


MAX_TTL_MINUTES = 1000 * 366 * 24 * 60
"""The longest TTL: 1,000 years (an expiry time must be a date every backend can store;
``ttl=None`` is "never expires")."""


def _is_minutes(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0 < value <= MAX_TTL_MINUTES)


def validate_ttl(ttl: Any) -> float | None:
    """Check a per-item TTL (positive minutes up to 1,000 years, or None for "never expires");
    raises ConfigError (a ValueError)."""
    if ttl is None:
        return None
    if not _is_minutes(ttl):
        raise ConfigError(
            f"invalid ttl {ttl!r}: a TTL is a positive number of minutes up to "
            f"{MAX_TTL_MINUTES} (1,000 years), or None to never expire"
        )
    return float(ttl)


TTL_KEYS = ("default_ttl", "refresh_on_read", "sweep_interval_minutes", "omit_expired")
"""The keys of LangGraph's ``TTLConfig``, all accepted with the same meaning."""


def pick_ttl_config(ttl: Mapping[str, Any] | None, ttl_config: Mapping[str, Any] | None) -> Any:
    """The TTL config a store constructor got: LangGraph's ``ttl=`` or waypoint's older
    ``ttl_config=`` (the same thing); both at once is a ConfigError."""
    if ttl is not None and ttl_config is not None:
        raise ConfigError("pass the TTL config once: ttl=... (LangGraph's name) or ttl_config=...")
    return ttl if ttl is not None else ttl_config


def normalize_ttl_config(ttl_config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Validate a ``TTLConfig`` and fill defaults (``refresh_on_read=True``).

    ``omit_expired`` (LangGraph's switch to hide expired items before a sweep, off by default
    there) may only be True: waypoint always hides expired items, on every backend."""
    if ttl_config is None:
        return None
    if not isinstance(ttl_config, Mapping):
        raise ConfigError(f"ttl_config must be a dict (TTLConfig), got {ttl_config!r}")
    unknown = set(ttl_config) - set(TTL_KEYS)
    if unknown:
        raise ConfigError(
            f"ttl_config has unknown keys {sorted(unknown)!r}; allowed: {', '.join(TTL_KEYS)}"
        )
    omit = ttl_config.get("omit_expired", True)
    if omit is not True:
        raise ConfigError(
            f"ttl_config omit_expired={omit!r}: waypoint always hides expired items from get, "
            "search and list_namespaces, even before a sweep deletes them; drop the key or "
            "set it to True"
        )
    default_ttl = ttl_config.get("default_ttl")
    if default_ttl is not None and not _is_minutes(default_ttl):
        raise ConfigError(
            f"ttl_config default_ttl={default_ttl!r}: use positive minutes (at most "
            f"{MAX_TTL_MINUTES}, 1,000 years) or None"
        )
    interval = ttl_config.get("sweep_interval_minutes")
    if interval is not None and not _is_minutes(interval):
        raise ConfigError(
            f"ttl_config sweep_interval_minutes={interval!r}: use positive minutes (at most "
            f"{MAX_TTL_MINUTES}) or None"
        )
    refresh = ttl_config.get("refresh_on_read", True)
    if not isinstance(refresh, bool):
        raise ConfigError(f"ttl_config refresh_on_read={refresh!r}: use True or False")
    out: dict[str, Any] = dict(ttl_config)
    out["refresh_on_read"] = refresh
    return out


def resolve_ttl(ttl_config: Mapping[str, Any] | None, ttl: Any) -> float | None:
    """The TTL (minutes) a put stores: the argument, or the configured default if not given."""
    if isinstance(ttl, NotProvided):
        return validate_ttl((ttl_config or {}).get("default_ttl"))
    return validate_ttl(ttl)


def resolve_refresh(ttl_config: Mapping[str, Any] | None, refresh_ttl: bool | None) -> bool:
    """Whether a read refreshes TTLs: the argument, else ``refresh_on_read`` (default True)."""
    if refresh_ttl is not None:
        return bool(refresh_ttl)
    return bool((ttl_config or {}).get("refresh_on_read", True))


def expiry(now: datetime, ttl_minutes: float | None) -> datetime | None:
    """When an item written or refreshed at ``now`` expires (None: never)."""
    return None if ttl_minutes is None else now + timedelta(minutes=ttl_minutes)


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    """Expired from the instant ``now`` reaches ``expires_at``."""
    return expires_at is not None and expires_at <= now


def sweep_interval_seconds(
    ttl_config: Mapping[str, Any] | None, sweep_interval_minutes: float | None
) -> float:
    """Seconds between sweeps: the argument, else the config, else 60 minutes."""
    minutes = sweep_interval_minutes
    if minutes is None:
        minutes = (ttl_config or {}).get("sweep_interval_minutes")
    if minutes is None:
        minutes = DEFAULT_SWEEP_INTERVAL_MINUTES
    if not _is_minutes(minutes):
        raise ValueError(f"sweep_interval_minutes={minutes!r}: use a positive number of minutes")
    return float(minutes) * 60.0


class ThreadSweeper:
    """Runs ``sweep(store)`` every ``interval`` seconds on a daemon thread until stopped."""

    def __init__(self, store: Any, sweep: Callable[[Any], int], interval: float) -> None:
        self._ref = weakref.ref(store)
        self._sweep = sweep
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.future: concurrent.futures.Future[None] = concurrent.futures.Future()

    def start(self) -> concurrent.futures.Future[None]:
        """Start the thread; the returned future completes when the sweeper stops."""
        self.future.set_running_or_notify_cancel()
        self._thread = threading.Thread(target=self._run, name="waypoint-ttl-sweeper", daemon=True)
        self._thread.start()
        return self.future

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval):
                store = self._ref()
                if store is None:
                    break
                try:
                    removed = self._sweep(store)
                    if removed:
                        logger.debug("TTL sweep removed %d expired store items", removed)
                except Exception:
                    logger.exception("TTL sweep failed; will retry at the next interval")
                del store
        finally:
            self.future.set_result(None)

    def stop(self, timeout: float | None = None) -> bool:
        """Signal the thread and wait up to ``timeout`` seconds; True if it has stopped."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True  # not started, or stopping itself (store collected mid-sweep)
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class TaskSweeper:
    """Awaits ``asweep(store)`` every ``interval`` seconds in an asyncio task until stopped."""

    def __init__(
        self, store: Any, asweep: Callable[[Any], Awaitable[int]], interval: float
    ) -> None:
        self._ref = weakref.ref(store)
        self._asweep = asweep
        self._interval = interval
        self._stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        """Create the task on the running loop and return it."""
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self.task

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._stop.wait(), self._interval)
                return
            except asyncio.TimeoutError:
                pass
            store = self._ref()
            if store is None:
                return
            try:
                removed = await self._asweep(store)
                if removed:
                    logger.debug("TTL sweep removed %d expired store items", removed)
            except Exception:
                logger.exception("TTL sweep failed; will retry at the next interval")
            del store

    async def stop(self, timeout: float | None = None) -> bool:
        """Signal the task and wait up to ``timeout`` seconds; True if it has finished."""
        self._stop.set()
        if self.task is None:
            return True
        done, _ = await asyncio.wait({self.task}, timeout=timeout)
        return bool(done)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


_START_LOCK = threading.Lock()  # makes a start idempotent under races; held only to start


class ThreadSweeping:
    """Mixin: ``start_ttl_sweeper``/``stop_ttl_sweeper`` of a store whose ``sweep_ttl`` is sync."""

    ttl_config: Any
    _sweeper: ThreadSweeper | None = None

    def start_ttl_sweeper(
        self, sweep_interval_minutes: float | None = None
    ) -> concurrent.futures.Future[None]:
        """Sweep expired items every ``sweep_interval_minutes`` (default: ``ttl_config``'s,
        else 60) on a daemon thread; the future completes when it stops. Idempotent."""
        with _START_LOCK:
            if self._sweeper is not None and self._sweeper.running:
                return self._sweeper.future
            interval = sweep_interval_seconds(self.ttl_config, sweep_interval_minutes)
            self._sweeper = ThreadSweeper(self, lambda store: store.sweep_ttl(), interval)
            return self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper, waiting up to ``timeout`` seconds; True once it has stopped."""
        sweeper = self._sweeper
        if sweeper is None:
            return True
        stopped = sweeper.stop(timeout)
        if stopped:
            self._sweeper = None
        return stopped


class TaskSweeping:
    """Mixin: the sweeper methods of a store bound to an event loop (``_bridge.LoopBound``)
    whose ``asweep_ttl`` is async: the sweeper is a task on the store's loop."""

    ttl_config: Any
    loop: asyncio.AbstractEventLoop | None
    _sweeper: TaskSweeper | None = None

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> asyncio.Task[None]:
        """Sweep expired items every ``sweep_interval_minutes`` (default: ``ttl_config``'s,
        else 60) in a task on the store's loop; returns the task. Idempotent; callable from
        the loop's thread or another one."""
        interval = sweep_interval_seconds(self.ttl_config, sweep_interval_minutes)
        running = running_loop()
        if running is None or (self.loop is not None and running is not self.loop):
            what = "start_ttl_sweeper"
            return wait(self._loop_for(what), self._astart(interval), what)  # type: ignore[attr-defined]
        self.loop = running
        return self._start(interval)

    async def _astart(self, interval: float) -> asyncio.Task[None]:
        return self._start(interval)

    def _start(self, interval: float) -> asyncio.Task[None]:
        if self._sweeper is not None and self._sweeper.running:
            assert self._sweeper.task is not None
            return self._sweeper.task
        self._sweeper = TaskSweeper(self, lambda store: store.asweep_ttl(), interval)
        return self._sweeper.start()

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper task, waiting up to ``timeout`` seconds; True once it has ended."""
        sweeper = self._sweeper
        if sweeper is None:
            return True
        stopped = await sweeper.stop(timeout)
        if stopped:
            self._sweeper = None
        return stopped


@contextmanager
def sweeper_stopped(store: S) -> Iterator[S]:
    """Yield ``store``; on exit stop its TTL sweeper (waiting up to 5 s)."""
    try:
        yield store
    finally:
        store.stop_ttl_sweeper(timeout=5)  # type: ignore[attr-defined]


@asynccontextmanager
async def asweeper_stopped(store: S) -> AsyncIterator[S]:
    """Async twin of :func:`sweeper_stopped`, for a :class:`TaskSweeping` store."""
    try:
        yield store
    finally:
        await store.stop_ttl_sweeper(timeout=5)  # type: ignore[attr-defined]
