"""Process-local resources that a ``fork()`` must not carry into the child.

After ``os.fork()`` only the forking thread exists in the child: a thread pool created in the
parent still believes its workers are alive (a submitted call would wait forever), and a lock
held by another thread at fork time stays held for good. Everything process-global in waypoint
is therefore created lazily through this module and dropped in the child right after a fork
(``os.register_at_fork``), so the child builds fresh ones on first use. Objects with locks of
their own (in-memory savers and stores) register a reset with ``at_fork_in_child``.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_MAX_WORKERS = 256

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_resets: weakref.WeakKeyDictionary[Any, Callable[[Any], None]] = weakref.WeakKeyDictionary()


def task_pool() -> ThreadPoolExecutor:
    """This process's thread pool for node functions and background saver calls."""
    pool = _pool
    if pool is None:
        pool = _new_pool()
    return pool


def _new_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_MAX_WORKERS, thread_name_prefix="waypoint-task")
        return _pool


def at_fork_in_child(owner: Any, reset: Callable[[Any], None]) -> None:
    """Call ``reset(owner)`` in a forked child (while ``owner`` is alive), before any other
    code of the child runs; used to replace locks the parent's threads may have held."""
    _resets[owner] = reset


def _after_fork_in_child() -> None:
    global _pool, _pool_lock
    # The parent's pool is abandoned, not shut down: its worker threads do not exist here.
    _pool = None
    _pool_lock = threading.Lock()
    for owner, reset in list(_resets.items()):
        reset(owner)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


_abandoned: list[Any] = []
_RLOCK = type(threading.RLock())
_LOCK = type(threading.Lock())


def _fresh_lock(old: Any) -> Any:
    """A new, released lock of the same kind (re-entrant or not) as ``old``."""
    return threading.RLock() if isinstance(old, _RLOCK) else threading.Lock()


class ForkAware:
    """Mixin of a backend holding a connection (and a ``lock``) that a forked child must not
    use: the parent's socket or file locks would be shared by two processes.

    In the child, the hook swaps the lock for a fresh one and flags the object; its next
    operation calls ``_after_fork()``, which reopens a connection the backend opened itself
    (it knows the path or URL) or raises :class:`~waypoint.errors.ForkedConnectionError`. The
    parent's connection objects are kept alive, never closed, in the child: closing them there
    would end the parent's session too.
    """

    _forked = False

    def _watch_fork(self) -> None:
        at_fork_in_child(self, ForkAware._mark_forked)

    def _mark_forked(self) -> None:
        self._forked = True
        lock = getattr(self, "lock", None)
        if isinstance(lock, (_RLOCK, _LOCK)):
            self.lock = _fresh_lock(lock)
        conn = getattr(self, "conn", None)
        if conn is not None:
            _abandoned.append(conn)

    def _check_fork(self) -> None:
        if self._forked:
            self._after_fork()
            self._forked = False

    def _after_fork(self) -> None:
        from waypoint.errors import ForkedConnectionError

        raise ForkedConnectionError(
            f"this {type(self).__name__} was opened in another process (before a fork) and its "
            "connection cannot be shared with the child; open the saver or store in the child "
            "process (e.g. in gunicorn's post_fork hook, Celery's worker_process_init signal or "
            "the multiprocessing target), or open it with from_conn_string(...) / a path so it "
            "can reconnect by itself"
        )


def renew_lock_after_fork(owner: Any, attr: str = "_lock") -> None:
    """Give ``owner`` a fresh lock in a forked child: another thread of the parent may have held
    ``owner.<attr>`` at fork time, and no thread would ever release it there."""

    def reset(obj: Any) -> None:
        setattr(obj, attr, _fresh_lock(getattr(obj, attr)))

    at_fork_in_child(owner, reset)
