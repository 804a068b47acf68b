"""Node and task result caches: ``BaseCache`` and its backends.

``from waypoint.cache.memory import InMemoryCache`` / ``from waypoint.cache.sqlite import
SqliteCache`` (LangGraph's module paths); the names are also importable from here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BaseCache", "InMemoryCache", "SqliteCache"]


def __getattr__(name: str) -> Any:  # the backends are imported only when asked for
    if name == "BaseCache":
        from waypoint.cache.base import BaseCache

        return BaseCache
    if name == "InMemoryCache":
        from waypoint.cache.memory import InMemoryCache

        return InMemoryCache
    if name == "SqliteCache":
        from waypoint.cache.sqlite import SqliteCache

        return SqliteCache
    raise AttributeError(f"module 'waypoint.cache' has no attribute {name!r}")
