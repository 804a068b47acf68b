"""Thread leases and fencing tokens: the saver side of "one writer per thread".

A run takes a *lease* on its thread before it reads the thread's head; the saver answers with a
*fencing token*, a number per thread that only grows. Every write of the run carries the lease
in its config (``config["configurable"][LEASE_KEY]``) and the saver refuses a write whose token
is no longer the thread's current one (:class:`~waypoint.errors.LeaseLostError`), inside the
same transaction as the write, and renews the lease's expiry in that same statement. Times are
the database's clock, so processes on machines with skewed clocks agree on expiry.

Tokens only grow: each is the previous one plus one, but at least the clock in microseconds, so
``delete_thread`` may erase a free lease (expired or released) with the rest of the thread and a
later run on the same thread id still gets a token larger than any earlier run's that could
still write (a held lease is kept: its run is still writing to the thread).

A saver supports leases when it has the methods of :class:`SupportsLeases`; the engine runs
without a lease on any other saver (a custom ``BaseCheckpointSaver`` subclass keeps working).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol, runtime_checkable

from waypoint.errors import ConfigError, LeaseLostError, ThreadBusyError

LEASE_KEY = "__wp_lease"
"""``config["configurable"]`` key under which a write carries its run's :class:`Lease`."""


class Lease(NamedTuple):
    """A run's hold on a thread: ``token`` fences its writes; ``expires_at`` is the database
    clock's Unix time (seconds) the hold lasts until unless renewed; ``ttl`` is what every
    renewal extends it by."""

    thread_id: str
    token: int
    holder: str
    ttl: float
    expires_at: float


@runtime_checkable
class SupportsLeases(Protocol):
    """The lease methods a saver implements (each one statement on the database)."""

    def acquire_lease(self, thread_id: str, holder: str, ttl: float) -> Lease:
        """Take the thread's lease when it is free (expired, released or never taken) or
        already ``holder``'s; raises ThreadBusyError otherwise. A new token every time."""

    def renew_lease(self, lease: Lease) -> Lease:
        """Extend the lease by its ttl; raises LeaseLostError when its token is stale."""

    def release_lease(self, lease: Lease) -> None:
        """Free the lease now (no-op when its token is stale); the token stays."""

    async def aacquire_lease(self, thread_id: str, holder: str, ttl: float) -> Lease: ...

    async def arenew_lease(self, lease: Lease) -> Lease: ...

    async def arelease_lease(self, lease: Lease) -> None: ...


def supports_leases(saver: Any) -> bool:
    """Whether ``saver`` has the lease methods (a custom saver without them runs unleased)."""
    return isinstance(saver, SupportsLeases)


def get_lease(config: Mapping[str, Any] | None) -> Lease | None:
    """The lease a write's config carries, checked against the config's thread."""
    conf = (config or {}).get("configurable") or {}
    lease = conf.get(LEASE_KEY)
    if lease is None:
        return None
    if not isinstance(lease, Lease):
        raise ConfigError(f"config['configurable'][{LEASE_KEY!r}] must be a Lease, got {type(lease).__name__}")
    thread_id = conf.get("thread_id")
    if thread_id is not None and str(thread_id) != lease.thread_id:
        raise ConfigError(
            f"a write to thread {str(thread_id)!r} carries the lease of thread {lease.thread_id!r}"
        )
    return lease


def with_lease(config: Mapping[str, Any], lease: Lease) -> dict[str, Any]:
    """A copy of a write's config carrying ``lease``."""
    return {**config, "configurable": {**(config.get("configurable") or {}), LEASE_KEY: lease}}


def utc(seconds: float) -> datetime:
    """A Unix time as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, timezone.utc)


def busy(thread_id: str, holder: str | None, expires_at: float, now: float) -> ThreadBusyError:
    """The error for a thread whose lease ``holder`` keeps until ``expires_at`` (database
    clock, read at ``now``)."""
    return ThreadBusyError(thread_id, retry_after=expires_at - now, expires_at=utc(expires_at), holder=holder)


def lost(lease: Lease, current: int | None = None, holder: str | None = None) -> LeaseLostError:
    """The error for a write fenced out: ``lease`` is no longer the thread's current one."""
    return LeaseLostError(lease.thread_id, lease.token, current=current, holder=holder)


__all__ = [
    "LEASE_KEY",
    "Lease",
    "SupportsLeases",
    "busy",
    "get_lease",
    "lost",
    "supports_leases",
    "utc",
    "with_lease",
]
