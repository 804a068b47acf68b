"""Expiry times shared by the cache backends (seconds since the epoch, UTC)."""

from __future__ import annotations

import time

from waypoint.errors import ConfigError


def now() -> float:
    """The clock entries expire by (one place, so tests can move it)."""
    return time.time()


def expiry(ttl: int | float | None) -> float | None:
    """When an entry written now with ``ttl`` seconds to live expires (None: never)."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise ConfigError(f"Cache ttl must be a positive number of seconds or None, got {ttl!r}")
    return now() + ttl


def expired(at: float | None, at_time: float) -> bool:
    return at is not None and at_time >= at
