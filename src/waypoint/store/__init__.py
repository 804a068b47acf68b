"""Long-term memory stores: ``BaseStore`` and its items and ops, plus ``InMemoryStore``.

``waypoint.store.base`` and ``waypoint.store.memory`` keep LangGraph's module paths; this
package re-exports their public names. ``InMemoryStore`` is imported on first use so that code
needing only the interface does not load numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from waypoint.store.base import (
    NOT_PROVIDED,
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    MatchCondition,
    NamespacePath,
    NotProvided,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

if TYPE_CHECKING:
    from waypoint.store.memory import InMemoryStore

__all__ = [
    "NOT_PROVIDED",
    "BaseStore",
    "GetOp",
    "InMemoryStore",
    "IndexConfig",
    "Item",
    "ListNamespacesOp",
    "MatchCondition",
    "NamespacePath",
    "NotProvided",
    "Op",
    "PutOp",
    "Result",
    "SearchItem",
    "SearchOp",
    "TTLConfig",
]


def __getattr__(name: str) -> Any:
    if name == "InMemoryStore":
        from waypoint.store.memory import InMemoryStore

        return InMemoryStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
