"""``uuid6``: time-ordered UUIDs of version 6 (RFC 9562), the id LangGraph's savers use.

Waypoint's own checkpoint ids come from ``waypoint.checkpoint.base.new_checkpoint_id``
(the same version-6 layout); this module serves savers and programs written against LangGraph's
``langgraph.checkpoint.base.id``.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid

_GREGORIAN_OFFSET = 0x01B21DD213814000  # 100 ns ticks from 1582-10-15 to 1970-01-01
_lock = threading.Lock()


def _renew_lock() -> None:  # a fork may copy the lock held by another thread
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_renew_lock)
_last_ticks = 0


def uuid6(node: int | None = None, clock_seq: int | None = None) -> uuid.UUID:
    """A version-6 UUID: 60 bits of 100-nanosecond Gregorian time, most significant first,
    so ids sort in creation order (strictly increasing within this process), then a 14-bit
    ``clock_seq`` and a 48-bit ``node``, each random when not given (only their low 14/48
    bits are used)."""
    global _last_ticks
    with _lock:
        ticks = time.time_ns() // 100 + _GREGORIAN_OFFSET
        if ticks <= _last_ticks:
            ticks = _last_ticks + 1
        _last_ticks = ticks
    if clock_seq is None:
        clock_seq = random.getrandbits(14)
    if node is None:
        node = random.getrandbits(48)
    # 48 bits time_high+mid | 4 bits version | 12 bits time_low | 2 variant | 14 seq | 48 node
    value = ((ticks >> 12) << 80) | (0x6 << 76) | ((ticks & 0x0FFF) << 64)
    value |= (0b10 << 62) | ((clock_seq & 0x3FFF) << 48) | (node & 0xFFFFFFFFFFFF)
    return uuid.UUID(int=value)


__all__ = ["uuid6"]
