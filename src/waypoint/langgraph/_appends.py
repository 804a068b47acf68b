"""Recognising appends under LangGraph's runtime, so list channels land in the item log.

Waypoint's own channels tell the saver "this value extends version X by these items".
LangGraph's runtime does not: it hands the saver the whole list at every step. The tracker
remembers, per (thread, namespace, channel), the last list it stored or read together with its
version; when a new value starts with the same items (the same objects, or equal ones) it
tells the saver so with a ``LogHint``, and the saver appends only the new items. A value that
shares no prefix starts a fresh lineage; one that shares part of it (a replace by id, a
removal, a fork from an older checkpoint) starts a child lineage holding only what differs.
The hint is only ever an upper bound the saver checks against what it stored for that version,
so a stale or missing memory costs bytes, never correctness.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from waypoint._process import renew_lock_after_fork
from waypoint.checkpoint.base import LogHint

MAX_REMEMBERED = 4096  # (thread, ns, channel) entries kept, least recently used dropped first

Key = tuple[str, str, str]


def common_prefix(old: list[Any], new: list[Any]) -> int:
    """How many leading items ``new`` shares with ``old``, in order (identity, else ``==``)."""
    n = min(len(old), len(new))
    i = 0
    while i < n:
        a, b = old[i], new[i]
        if a is not b:
            try:
                same = bool(a == b)
            except Exception:  # an item type whose == raises or is ambiguous (numpy arrays)
                same = False
            if not same:
                break
        i += 1
    return i


class AppendTracker:
    """The last stored (or read) list per (thread, namespace, channel), and its version."""

    def __init__(self, max_entries: int = MAX_REMEMBERED) -> None:
        self._max = max_entries
        self._last: OrderedDict[Key, tuple[Any, list[Any]]] = OrderedDict()
        self._lock = threading.Lock()
        renew_lock_after_fork(self)

    def hints(
        self, thread_id: str, ns: str, values: Mapping[str, Any], new_versions: Mapping[str, Any]
    ) -> dict[str, LogHint]:
        """A log hint for every list channel among ``new_versions``."""
        out: dict[str, LogHint] = {}
        for channel in new_versions:
            value = values.get(channel)
            if type(value) is not list:
                continue
            with self._lock:
                last = self._last.get((thread_id, ns, channel))
            if last is None:
                out[channel] = LogHint(None, 0)
                continue
            version, items = last
            prefix = common_prefix(items, value)
            out[channel] = LogHint(version, prefix) if prefix else LogHint(None, 0)
        return out

    def remember(
        self, thread_id: str, ns: str, values: Mapping[str, Any], versions: Mapping[str, Any]
    ) -> None:
        """Note the list values now stored (or read) at ``versions``."""
        with self._lock:
            for channel, version in versions.items():
                value = values.get(channel)
                if type(value) is not list:
                    continue
                key = (thread_id, ns, channel)
                self._last[key] = (version, list(value))
                self._last.move_to_end(key)
            while len(self._last) > self._max:
                self._last.popitem(last=False)

    def forget_thread(self, thread_id: str) -> None:
        with self._lock:
            for key in [k for k in self._last if k[0] == thread_id]:
                del self._last[key]
