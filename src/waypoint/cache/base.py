"""``BaseCache``: the interface every cache backend implements.

Entries are addressed by a *full key* ``(namespace, key)``: the namespace is a tuple of
strings (the engine uses one per node), the key a string. Values go through the cache's
serializer (``serde``), so a cache holds what a checkpoint could hold.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer

ValueT = TypeVar("ValueT")
Namespace = tuple[str, ...]
FullKey = tuple[Namespace, str]

__all__ = ["BaseCache", "FullKey", "Namespace", "ValueT"]


class BaseCache(ABC, Generic[ValueT]):
    """A cache of values with optional time-to-live, sync and async.

    ``get(keys)`` returns only the entries that exist and have not expired; ``set({full_key:
    (value, ttl_seconds_or_None)})`` writes entries; ``clear(namespaces)`` deletes the given
    namespaces (all entries when None).
    """

    serde: SerializerProtocol = JsonPlusSerializer(pickle_fallback=False)

    def __init__(self, *, serde: SerializerProtocol | None = None) -> None:
        self.serde = serde or self.serde

    @abstractmethod
    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        """The live (unexpired) values stored under ``keys``."""

    @abstractmethod
    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        """Async twin of ``get``."""

    @abstractmethod
    def set(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        """Store each value with its time-to-live in seconds (None: never expires)."""

    @abstractmethod
    async def aset(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        """Async twin of ``set``."""

    @abstractmethod
    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Delete the entries of ``namespaces``, or every entry when None."""

    @abstractmethod
    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Async twin of ``clear``."""
