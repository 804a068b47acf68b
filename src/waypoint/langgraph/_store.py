"""One adapter shape for every store: LangGraph's ``BaseStore`` over a waypoint store.

LangGraph's ``get/put/search/list_namespaces`` (and ``a``-twins) all end in ``batch`` /
``abatch``; the adapter turns LangGraph's op tuples into waypoint's (same fields), runs them on
the waypoint store (``.waypoint``) and turns the results into LangGraph's ``Item`` /
``SearchItem``. Indexing, embeddings, filters and TTL are the waypoint store's; ``search`` /
``asearch`` also take waypoint's ``mode=`` (hybrid search) and pass it through.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, ClassVar

from langgraph.store.base import BaseStore
from langgraph.store.base import GetOp as LgGetOp
from langgraph.store.base import Item as LgItem
from langgraph.store.base import ListNamespacesOp as LgListNamespacesOp
from langgraph.store.base import PutOp as LgPutOp
from langgraph.store.base import SearchItem as LgSearchItem
from langgraph.store.base import SearchOp as LgSearchOp

from waypoint.errors import ConfigError
from waypoint.langgraph._saver import load
from waypoint.store import base as wp


def _match(cond: Any) -> wp.MatchCondition:
    return wp.MatchCondition(match_type=cond.match_type, path=tuple(cond.path))


def op_to_waypoint(op: Any) -> Any:
    """LangGraph's store op as waypoint's (the fields are the same)."""
    if isinstance(op, LgGetOp):
        return wp.GetOp(op.namespace, op.key, op.refresh_ttl)
    if isinstance(op, LgPutOp):
        return wp.PutOp(op.namespace, op.key, op.value, op.index, op.ttl)
    if isinstance(op, LgSearchOp):
        return wp.SearchOp(op.namespace_prefix, op.filter, op.limit, op.offset, op.query, op.refresh_ttl)
    if isinstance(op, LgListNamespacesOp):
        conditions = None if op.match_conditions is None else tuple(map(_match, op.match_conditions))
        return wp.ListNamespacesOp(conditions, op.max_depth, op.limit, op.offset)
    if isinstance(op, (wp.GetOp, wp.PutOp, wp.SearchOp, wp.ListNamespacesOp)):
        return op
    raise ConfigError(
        f"unknown store operation {type(op).__name__}: use GetOp, PutOp, SearchOp or "
        "ListNamespacesOp from langgraph.store.base"
    )


def item_to_langgraph(item: Any) -> Any:
    if isinstance(item, wp.SearchItem):
        return LgSearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at, item.score)
    return LgItem(
        value=item.value, key=item.key, namespace=item.namespace,
        created_at=item.created_at, updated_at=item.updated_at,
    )


def result_to_langgraph(result: Any) -> Any:
    if isinstance(result, wp.Item):
        return item_to_langgraph(result)
    if isinstance(result, list) and result and isinstance(result[0], wp.Item):
        return [item_to_langgraph(item) for item in result]
    return result


class StoreAdapter(BaseStore):
    """LangGraph's store interface over the waypoint store named by ``waypoint_class``."""

    waypoint_class: ClassVar[str]
    supports_ttl = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.waypoint = load(self.waypoint_class)(*args, **kwargs)

    @classmethod
    def _wrap(cls, inner: Any) -> Any:
        adapter = cls.__new__(cls)
        adapter.waypoint = inner
        return adapter

    @property
    def ttl_config(self) -> Any:  # type: ignore[override]
        return self.waypoint.ttl_config

    @property
    def index_config(self) -> Any:
        return self.waypoint.index_config

    @property
    def embeddings(self) -> Any:
        return self.waypoint.embeddings

    def __getattr__(self, name: str) -> Any:
        # connection attributes and backend extras (conn, sweepers, ...) of the waypoint store
        if name.startswith("_") or name == "waypoint":
            raise AttributeError(name)
        return getattr(self.waypoint, name)

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
    ) -> list[Any]:
        """LangGraph's ``search``; ``mode`` (waypoint's ``"vector"``, ``"keyword"``,
        ``"hybrid"``) passes through to the waypoint store when given."""
        if mode is None:
            return super().search(namespace_prefix, query=query, filter=filter, limit=limit,
                                  offset=offset, refresh_ttl=refresh_ttl)
        op = self.waypoint._search_op(namespace_prefix, query, filter, limit, offset, refresh_ttl, mode)
        return self.batch([op])[0]  # type: ignore[no-any-return]

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
    ) -> list[Any]:
        """Async twin of :meth:`search`."""
        if mode is None:
            return await super().asearch(namespace_prefix, query=query, filter=filter,
                                         limit=limit, offset=offset, refresh_ttl=refresh_ttl)
        op = self.waypoint._search_op(namespace_prefix, query, filter, limit, offset, refresh_ttl, mode)
        return (await self.abatch([op]))[0]  # type: ignore[no-any-return]

    def batch(self, ops: Iterable[Any]) -> list[Any]:
        results = self.waypoint.batch([op_to_waypoint(op) for op in ops])
        return [result_to_langgraph(r) for r in results]

    async def abatch(self, ops: Iterable[Any]) -> list[Any]:
        results = await self.waypoint.abatch([op_to_waypoint(op) for op in ops])
        return [result_to_langgraph(r) for r in results]


class SyncStoreAdapter(StoreAdapter):
    """A store over a blocking client: ``from_conn_string`` is a ``with`` context manager."""

    @classmethod
    @contextmanager
    def from_conn_string(cls, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """As the waypoint class's ``from_conn_string``, yielding the LangGraph adapter."""
        with load(cls.waypoint_class).from_conn_string(*args, **kwargs) as inner:
            yield cls._wrap(inner)

    def setup(self) -> None:
        """Create or migrate waypoint's store schema (idempotent)."""
        self.waypoint.setup()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        close = getattr(self.waypoint, "close", None)
        if close is not None:
            close()


class AsyncStoreAdapter(StoreAdapter):
    """A store over an asyncio client: ``from_conn_string`` is an ``async with`` manager."""

    @classmethod
    @asynccontextmanager
    async def from_conn_string(cls, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """As the waypoint class's ``from_conn_string``, yielding the LangGraph adapter."""
        async with load(cls.waypoint_class).from_conn_string(*args, **kwargs) as inner:
            yield cls._wrap(inner)

    async def setup(self) -> None:
        """Create or migrate waypoint's store schema (idempotent): ``await store.setup()``."""
        result = self.waypoint.setup()
        if inspect.isawaitable(result):
            await result
