"""The store's data types: items, the four operations, and the config dicts.

Backends import these from ``waypoint.store.base`` (the public path); they live here so the
shared batch validator (``_batch.py``) and ``BaseStore`` can both use them without a cycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple, TypedDict, Union

from typing_extensions import NotRequired


def _as_datetime(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class Item:
    """A stored value with its address and timestamps.

    ``namespace`` (tuple of labels), ``key``, ``value`` (dict), ``created_at`` (first write)
    and ``updated_at`` (last write), both aware UTC datetimes (ISO strings are accepted).
    """

    __slots__ = ("created_at", "key", "namespace", "updated_at", "value")

    def __init__(
        self,
        *,
        value: dict[str, Any],
        key: str,
        namespace: tuple[str, ...],
        created_at: datetime | str,
        updated_at: datetime | str,
    ) -> None:
        self.value = value
        self.key = key
        self.namespace = tuple(namespace)
        self.created_at = _as_datetime(created_at)
        self.updated_at = _as_datetime(updated_at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return self.dict() == other.dict()

    def __hash__(self) -> int:
        return hash((self.namespace, self.key))

    def dict(self) -> dict[str, Any]:
        """JSON-ready form: namespace as a list, timestamps as ISO-8601 strings."""
        return {
            "namespace": list(self.namespace),
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.dict().items())
        return f"{type(self).__name__}({fields})"


class SearchItem(Item):
    """An item returned by ``search``; ``score`` is its similarity to the query, or None."""

    __slots__ = ("score",)

    def __init__(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        created_at: datetime | str,
        updated_at: datetime | str,
        score: float | None = None,
    ) -> None:
        super().__init__(
            value=value, key=key, namespace=namespace, created_at=created_at, updated_at=updated_at
        )
        self.score = score

    def dict(self) -> dict[str, Any]:
        return {**super().dict(), "score": self.score}


_new = object.__new__


def make_item(
    namespace: tuple[str, ...], key: str, value: dict[str, Any], created_at: datetime,
    updated_at: datetime, score: float | None = None, *, search: bool = False,
) -> Item:
    """An ``Item`` (``SearchItem`` if ``search``) from parts already in their final types (a
    tuple namespace, aware datetimes): the backends' hot path, skipping the conversions."""
    item = _new(SearchItem if search else Item)
    item.namespace = namespace
    item.key = key
    item.value = value
    item.created_at = created_at
    item.updated_at = updated_at
    if search:
        item.score = score  # type: ignore[attr-defined]
    return item


class GetOp(NamedTuple):
    """Read one item; ``refresh_ttl`` moves its expiry forward if it has a TTL."""

    namespace: tuple[str, ...]
    key: str
    refresh_ttl: bool = True


class SearchOp(NamedTuple):
    """Find items under ``namespace_prefix`` matching ``filter``, optionally ranked by
    similarity to ``query``; ``limit``/``offset`` page the result.

    ``mode`` (waypoint's, last so LangGraph-shaped positional code keeps working): None for
    LangGraph's ranking, or ``"vector"``, ``"keyword"``, ``"hybrid"`` (see ``_hybrid``).
    """

    namespace_prefix: tuple[str, ...]
    filter: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    query: str | None = None
    refresh_ttl: bool = True
    mode: str | None = None


NamespaceMatchType = Literal["prefix", "suffix"]
NamespacePath = tuple[Union[str, Literal["*"]], ...]
"""A namespace pattern for ``list_namespaces``; ``"*"`` matches any one label."""


class MatchCondition(NamedTuple):
    """Namespaces starting (``"prefix"``) or ending (``"suffix"``) with ``path``."""

    match_type: NamespaceMatchType
    path: NamespacePath


class ListNamespacesOp(NamedTuple):
    """List distinct namespaces matching every condition, truncated to ``max_depth`` labels."""

    match_conditions: tuple[MatchCondition, ...] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0


class PutOp(NamedTuple):
    """Write ``value`` at ``(namespace, key)``; ``value=None`` deletes.

    ``index``: None embeds the store's default fields, False embeds nothing, a list of field
    paths overrides them for this item. ``ttl``: minutes until expiry, or None for never.
    """

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any] | None
    index: Literal[False] | list[str] | None = None  # type: ignore[assignment]
    ttl: float | None = None


Op = Union[GetOp, SearchOp, PutOp, ListNamespacesOp]
Result = Union[Item, list[Item], list[SearchItem], list[tuple[str, ...]], None]


class IndexConfig(TypedDict):
    """Semantic-search configuration of a store.

    ``dims``: vector size; ``embed``: a sync or async function ``list[str] -> list[vector]``,
    an embeddings object (``embed_documents``/``embed_query``) or ``"provider:model"``;
    ``fields``: paths of the text to embed (default ``["$"]``, the whole value);
    ``hybrid``: also keep a keyword index over that text, for ``search(mode="keyword" |
    "hybrid")`` (default False); ``language``: the keyword index's language where the backend
    stems words (default ``"english"``).
    """

    dims: int
    embed: Any
    fields: NotRequired[list[str] | None]
    hybrid: NotRequired[bool]
    language: NotRequired[str]


class TTLConfig(TypedDict, total=False):
    """Expiry configuration of a store.

    ``default_ttl``: minutes for puts that do not pass ``ttl`` (None: never expire);
    ``refresh_on_read``: whether reads push expiry forward by default (True);
    ``sweep_interval_minutes``: period of ``start_ttl_sweeper()``;
    ``omit_expired``: LangGraph's key; only True, which is what waypoint always does (expired
    items are hidden from every read even before a sweep deletes them).
    """

    default_ttl: float | None
    refresh_on_read: bool
    sweep_interval_minutes: float | None
    omit_expired: bool
