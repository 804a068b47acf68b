"""The long-term memory store interface: items, operations, and ``BaseStore``.

A store keeps JSON-like dict values under ``(namespace, key)``, where a namespace is a tuple of
labels such as ``("users", "42", "memories")``. It outlives threads: graphs reach it through
``compile(store=...)`` and ``get_store()``.

``BaseStore.batch(ops)`` / ``abatch(ops)`` is the one primitive a backend implements;
``get``, ``put``, ``delete``, ``search``, ``list_namespaces`` and their ``a``-twins are built
here once on top of it, validating their arguments before any op reaches a backend.

Contract every backend follows (the conformance suite in ``tests/conformance/test_store.py``
checks it over every backend, sync and async):

- Ops in one ``batch`` apply in order (a get after a put in the same batch sees it) and share
  one timestamp; results come back one per op, in order.
- ``created_at`` is kept when an item is overwritten, ``updated_at`` moves; both are aware UTC.
- ``search`` without ``query`` orders by ``updated_at`` newest first, ties by namespace (as a
  tuple) then key; ``score`` is None. With a ``query`` and an index, items with vectors come
  first by cosine similarity (highest first), then unindexed items in the order above. A
  ``query`` on a store without an index is ignored (items come back unscored), as in LangGraph.
- ``mode`` (waypoint's): ``"vector"``, ``"keyword"`` or ``"hybrid"`` ranking of a ``query``
  (see ``_hybrid``); a mode the store cannot serve raises ValueError, never falls back.
- Filters apply before ranking and pagination, so ``limit`` counts matching items.
- Expired items are invisible at once; only a sweep deletes them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable, Literal, Mapping

from waypoint.errors import InvalidNamespaceError
from waypoint.store._batch import checked, checked_get
from waypoint.store._embed import Embedder, ensure_embeddings, get_text_at_path
from waypoint.store._items import (
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    MatchCondition,
    NamespaceMatchType,
    NamespacePath,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)
from waypoint.store._namespaces import validate_match_path
from waypoint.store._ttl import NOT_PROVIDED, NotProvided, resolve_refresh, resolve_ttl

__all__ = [
    "NOT_PROVIDED",
    "BaseStore",
    "Embedder",
    "GetOp",
    "IndexConfig",
    "InvalidNamespaceError",
    "Item",
    "ListNamespacesOp",
    "MatchCondition",
    "NamespaceMatchType",
    "NamespacePath",
    "NotProvided",
    "Op",
    "PutOp",
    "Result",
    "SearchItem",
    "SearchOp",
    "TTLConfig",
    "ensure_embeddings",
    "get_text_at_path",
]


class BaseStore(ABC):
    """Interface of every store; subclasses implement ``batch`` and ``abatch`` only.

    ``supports_ttl`` says whether ``put(ttl=...)`` is honoured; ``ttl_config`` holds the
    store's TTL defaults (see :class:`TTLConfig`).
    """

    supports_ttl: bool = False
    ttl_config: TTLConfig | None = None

    @abstractmethod
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Apply ops in order and return one result per op (see module docs for the rules)."""

    @abstractmethod
    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of :meth:`batch`."""

    # Op builders: validation lives here once, shared by the sync and async faces.

    def _get_op(self, namespace: tuple[str, ...], key: str, refresh_ttl: bool | None) -> GetOp:
        if refresh_ttl is None and self.ttl_config is None:
            return checked_get(namespace, key, True)
        return checked_get(namespace, key, resolve_refresh(self.ttl_config, refresh_ttl))

    def _put_op(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None,
        ttl: float | NotProvided | None,
    ) -> PutOp:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise ValueError(
                f"store values are dicts, got {type(value).__name__} for key {key!r}; "
                "wrap it, e.g. {'value': ...}; use delete() to remove an item"
            )
        if ttl is not NOT_PROVIDED and ttl is not None and not self.supports_ttl:
            raise ValueError(
                f"{type(self).__name__} does not support TTL; drop ttl= or use a store "
                "whose supports_ttl is True"
            )
        resolved = resolve_ttl(self.ttl_config, ttl) if self.supports_ttl else None
        return checked(PutOp, namespace, key, dict(value), index, resolved)

    def _delete_op(self, namespace: tuple[str, ...], key: str) -> PutOp:
        return checked(PutOp, namespace, key, None)

    def _search_op(
        self,
        namespace_prefix: tuple[str, ...],
        query: str | None,
        filter: dict[str, Any] | None,
        limit: int,
        offset: int,
        refresh_ttl: bool | None,
        mode: str | None,
    ) -> SearchOp:
        refresh = resolve_refresh(self.ttl_config, refresh_ttl)
        return checked(SearchOp, namespace_prefix, filter, limit, offset, query, refresh, mode)

    def _list_op(
        self,
        prefix: NamespacePath | None,
        suffix: NamespacePath | None,
        max_depth: int | None,
        limit: int,
        offset: int,
    ) -> ListNamespacesOp:
        conditions = []
        if prefix is not None:
            conditions.append(MatchCondition("prefix", validate_match_path(prefix)))
        if suffix is not None:
            conditions.append(MatchCondition("suffix", validate_match_path(suffix)))
        return checked(ListNamespacesOp, tuple(conditions) or None, max_depth, limit, offset)

    # Sync face.

    def get(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """The item at ``(namespace, key)``, or None if absent or expired."""
        if refresh_ttl is None and self.ttl_config is None:  # inlined _get_op: the hot path
            return self.batch([checked_get(namespace, key, True)])[0]  # type: ignore[return-value]
        return self.batch([self._get_op(namespace, key, refresh_ttl)])[0]  # type: ignore[return-value]

    def put(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | NotProvided | None = NOT_PROVIDED,
    ) -> None:
        """Create or replace an item; ``index`` and ``ttl`` as in :class:`PutOp`."""
        self.batch([self._put_op(namespace, key, value, index, ttl)])

    def delete(self, namespace: tuple[str, ...], key: str) -> None:
        """Remove an item (absent items are fine)."""
        self.batch([self._delete_op(namespace, key)])

    def search(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
        mode: str | None = None,
    ) -> list[SearchItem]:
        """Items under ``namespace_prefix`` matching ``filter``, ranked by ``query`` if given.

        ``mode``: None (LangGraph's ranking), ``"vector"``, ``"keyword"`` or ``"hybrid"``
        (the last two need ``index={..., "hybrid": True}``); ValueError if the store lacks it.
        """
        op = self._search_op(namespace_prefix, query, filter, limit, offset, refresh_ttl, mode)
        return self.batch([op])[0]  # type: ignore[return-value]

    def list_namespaces(
        self,
        *,
        prefix: NamespacePath | None = None,
        suffix: NamespacePath | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """Distinct namespaces holding live items, sorted, filtered by ``prefix``/``suffix``
        patterns (``"*"`` matches one label) and truncated to ``max_depth`` labels."""
        op = self._list_op(prefix, suffix, max_depth, limit, offset)
        return self.batch([op])[0]  # type: ignore[return-value]

    # Async face: the same ops through abatch.

    async def aget(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """Async twin of :meth:`get`."""
        return (await self.abatch([self._get_op(namespace, key, refresh_ttl)]))[0]  # type: ignore[return-value]

    async def aput(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: Mapping[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | NotProvided | None = NOT_PROVIDED,
    ) -> None:
        """Async twin of :meth:`put`."""
        await self.abatch([self._put_op(namespace, key, value, index, ttl)])

    async def adelete(self, namespace: tuple[str, ...], key: str) -> None:
        """Async twin of :meth:`delete`."""
        await self.abatch([self._delete_op(namespace, key)])

    async def asearch(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
        mode: str | None = None,
    ) -> list[SearchItem]:
        """Async twin of :meth:`search`."""
        op = self._search_op(namespace_prefix, query, filter, limit, offset, refresh_ttl, mode)
        return (await self.abatch([op]))[0]  # type: ignore[return-value]

    async def alist_namespaces(
        self,
        *,
        prefix: NamespacePath | None = None,
        suffix: NamespacePath | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """Async twin of :meth:`list_namespaces`."""
        op = self._list_op(prefix, suffix, max_depth, limit, offset)
        return (await self.abatch([op]))[0]  # type: ignore[return-value]
