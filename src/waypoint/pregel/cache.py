"""Node and task result caching: cache keys, what may be cached, and the engine's lookups.

A cached entry is the list of channel writes a node (or a functional-API task) made for one
input; it lives under the namespace ``("__pregel_ns_writes", <module.qualname of the code>,
<node name>)`` so ``clear_cache(nodes)`` can drop one node's entries and changed code under
another name never reads stale ones. The functional API reuses ``cache_key`` / ``cacheable`` /
``lookup`` / ``alookup`` / ``store`` / ``astore`` for ``@task(cache_policy=...)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from waypoint.checkpoint.base import ERROR, INTERRUPT
from waypoint.errors import ConfigError

CACHE_NS_WRITES = "__pregel_ns_writes"
DYNAMIC = "__dynamic__"  # code without a module-level name (lambdas' module still counts)


class CacheKey(NamedTuple):
    """Where one input's cached writes live, and for how long they are kept."""

    ns: tuple[str, ...]
    key: str
    ttl: int | None


def identifier(fn: Any) -> str | None:
    """``module.qualname`` of the code a node runs (None when it has neither)."""
    inner = getattr(fn, "func", None)  # functools.partial, RunnableCallable
    if inner is not None and callable(inner):
        fn = inner
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is None:
        name = getattr(type(fn), "__qualname__", None)
        module = getattr(type(fn), "__module__", None)
    else:
        module = getattr(fn, "__module__", None)
    if name is None or module is None:
        return None
    return f"{module}.{name}"


def namespace(fn: Any, name: str) -> tuple[str, ...]:
    """The cache namespace of node (or task) ``name`` running ``fn``."""
    return (CACHE_NS_WRITES, identifier(fn) or DYNAMIC, name)


def cache_key(policy: Any, ns: tuple[str, ...], *args: Any, **kwargs: Any) -> CacheKey:
    """The key of one call: ``policy.key_func(*args, **kwargs)`` hashed into ``ns``."""
    raw = policy.key_func(*args, **kwargs)
    if isinstance(raw, str):
        raw = raw.encode()
    elif not isinstance(raw, (bytes, bytearray)):
        raise ConfigError(
            f"CachePolicy.key_func must return str or bytes, got {type(raw).__name__}: "
            "make it return e.g. a string built from the input"
        )
    return CacheKey(ns, hashlib.blake2b(raw, digest_size=16).hexdigest(), policy.ttl)


def cacheable(writes: Iterable[tuple[str, Any]]) -> bool:
    """Only a finished result is cached: a cache hit skips the code, so caching an error or
    an interrupt would skip it without raising or asking."""
    return not any(ch in (ERROR, INTERRUPT) for ch, _ in writes)


def lookup(cache: Any, keys: Sequence[CacheKey]) -> dict[tuple[tuple[str, ...], str], Any]:
    """The cached writes found for ``keys`` (full key -> writes)."""
    return cache.get([(k.ns, k.key) for k in keys]) if keys else {}


async def alookup(cache: Any, keys: Sequence[CacheKey]) -> dict[tuple[tuple[str, ...], str], Any]:
    return await cache.aget([(k.ns, k.key) for k in keys]) if keys else {}


def _pairs(entries: Iterable[tuple[CacheKey, Any]]) -> dict[Any, Any]:
    return {(k.ns, k.key): (list(writes), k.ttl) for k, writes in entries}


def store(cache: Any, entries: Iterable[tuple[CacheKey, Any]]) -> None:
    """Cache each ``(key, writes)`` pair."""
    pairs = _pairs(entries)
    if pairs:
        cache.set(pairs)


async def astore(cache: Any, entries: Iterable[tuple[CacheKey, Any]]) -> None:
    pairs = _pairs(entries)
    if pairs:
        await cache.aset(pairs)


class CacheMixin:
    """What a Loop does for cached nodes. ``cache_wanted`` holds the step's tasks whose
    cached writes the driver looks up (``cache_hits`` takes the answer); ``cache_out`` the
    (key, writes) entries of tasks that finished, for the driver to store."""

    def _want_cache(self: Any, tasks: list[Any]) -> None:
        default = self.graph.cache_policy
        wanted = self.cache_wanted
        wanted.clear()
        for t in tasks:
            node = t.node
            policy = node.cache_policy or default
            if policy is None or t.done or node.cache_ns is None:
                continue
            t.cache_key = cache_key(policy, node.cache_ns, t.input)
            wanted.append(t)

    def cache_hits(self: Any, found: dict[Any, Any]) -> None:
        """Tasks whose writes were found in the cache are done without running."""
        if not found:
            return
        from waypoint.pregel.algo import task_path_str
        from waypoint.pregel.constants import NO_WRITES

        for t in self.cache_wanted:
            k = t.cache_key
            writes = found.get((k.ns, k.key))
            if writes is None:
                continue
            t.writes = [tuple(w) for w in writes]
            t.done = True
            t.cache_key = None  # not stored again
            self._save_writes(t.id, task_path_str(t.path), t.writes or [(NO_WRITES, None)])
            self.emit_cached_update(t)

    def _cache_done(self: Any, task: Any) -> None:
        if (task.error is None and not task.interrupted and task.parent_command is None
                and cacheable(task.writes)):
            self.cache_out.append((task.cache_key, task.writes))
