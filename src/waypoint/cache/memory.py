"""``InMemoryCache``: a cache living in this process (thread-safe)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from waypoint.cache import _ttl
from waypoint.cache._ttl import expired, expiry
from waypoint.cache.base import BaseCache, FullKey, Namespace, ValueT
from waypoint.checkpoint.serde.base import SerializerProtocol

__all__ = ["InMemoryCache"]


class InMemoryCache(BaseCache[ValueT]):
    """Entries kept serialized in a dict per namespace, so a cached value is a copy: later
    changes to the object a node returned never reach the cache."""

    def __init__(self, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self._data: dict[Namespace, dict[str, tuple[str, bytes, float | None]]] = {}
        self._lock = threading.RLock()

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        out: dict[FullKey, ValueT] = {}
        if not keys:
            return out
        now = _ttl.now()
        with self._lock:
            for ns, key in keys:
                ns = tuple(ns)
                entries = self._data.get(ns)
                entry = entries.get(key) if entries else None
                if entry is None:
                    continue
                tag, raw, at = entry
                if expired(at, now):
                    del entries[key]  # type: ignore[union-attr]
                    continue
                out[(ns, key)] = self.serde.loads_typed((tag, raw))
        return out

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        return self.get(keys)

    def set(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        rows = [(tuple(ns), key, *self.serde.dumps_typed(value), expiry(ttl))
                for (ns, key), (value, ttl) in pairs.items()]
        with self._lock:
            for ns, key, tag, raw, at in rows:
                self._data.setdefault(ns, {})[key] = (tag, raw, at)

    async def aset(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        self.set(pairs)

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        with self._lock:
            if namespaces is None:
                self._data.clear()
                return
            for ns in namespaces:
                self._data.pop(tuple(ns), None)

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        self.clear(namespaces)
