"""The requests the store's operations yield, and the sync and async executors that run them.

A request builds its pymongo call once (``call(collection)``); pymongo's sync and async
collections share one API, so the call returns a result for ``MongoClient`` and an awaitable
for ``AsyncMongoClient``. Executors add only waiting, cursor cleanup and the one mapping of
driver errors to ``waypoint.errors``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from bson.errors import InvalidDocument
from pymongo.errors import BulkWriteError, PyMongoError

from waypoint.errors import SerializationError, StorageError


@dataclass
class Find:
    """Every matching document of a bounded query, as a list."""

    filter: dict[str, Any]
    projection: dict[str, Any] | None = None
    sort: list[tuple[str, int]] | None = None
    skip: int = 0
    limit: int = 0

    def call(self, coll: Any) -> Any:
        return coll.find(
            self.filter, self.projection, sort=self.sort, skip=self.skip, limit=self.limit
        ).to_list()


@dataclass
class Open:
    """A cursor over a query (``pipeline`` None) or an aggregation; read it with ``Next``."""

    filter: dict[str, Any] | None = None
    projection: dict[str, Any] | None = None
    sort: list[tuple[str, int]] | None = None
    pipeline: list[dict[str, Any]] | None = None
    batch_size: int = 500

    def call(self, coll: Any) -> Any:
        if self.pipeline is not None:
            return coll.aggregate(self.pipeline, batchSize=self.batch_size)
        return coll.find(self.filter, self.projection, sort=self.sort, batch_size=self.batch_size)


@dataclass
class Next:
    """Up to ``n`` more documents of an open cursor; an empty list once it is exhausted."""

    cursor: Any
    n: int

    def call(self, coll: Any) -> Any:
        return self.cursor.to_list(self.n)


@dataclass
class Bulk:
    """One ordered ``bulk_write`` of pymongo write models."""

    models: list[Any]

    def call(self, coll: Any) -> Any:
        return coll.bulk_write(self.models, ordered=True)


@dataclass
class Sweep:
    """Delete every matching document; returns the result (``deleted_count``)."""

    filter: dict[str, Any]

    def call(self, coll: Any) -> Any:
        return coll.delete_many(self.filter)


@dataclass
class Indexes:
    """Create indexes (idempotent for identical definitions)."""

    models: list[Any]

    def call(self, coll: Any) -> Any:
        return coll.create_indexes(self.models)


def _error(request: Any, exc: Exception) -> Exception:
    if isinstance(exc, InvalidDocument):
        return SerializationError(f"a store value cannot be stored as BSON: {exc}")
    detail = exc.details if isinstance(exc, BulkWriteError) else exc
    what = type(request).__name__.lower()
    return StorageError(f"MongoDB {what} on the store collection failed: {detail}")


@dataclass
class _Executor:
    coll: Any
    cursors: list[Any] = field(default_factory=list)

    def _track(self, request: Any, result: Any) -> Any:
        if isinstance(request, Open):
            self.cursors.append(result)
        return result


class SyncExecutor(_Executor):
    """Runs requests on a sync collection; a context manager that closes its cursors."""

    def __call__(self, request: Any) -> Any:
        try:
            return self._track(request, request.call(self.coll))
        except (PyMongoError, InvalidDocument) as exc:
            raise _error(request, exc) from exc

    def __enter__(self) -> "SyncExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        for cursor in self.cursors:
            cursor.close()


class AsyncExecutor(_Executor):
    """Runs requests on an ``AsyncMongoClient`` collection; an async context manager."""

    async def __call__(self, request: Any) -> Any:
        try:
            result = request.call(self.coll)
            if inspect.isawaitable(result):
                result = await result
            return self._track(request, result)
        except (PyMongoError, InvalidDocument) as exc:
            raise _error(request, exc) from exc

    async def __aenter__(self) -> "AsyncExecutor":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for cursor in self.cursors:
            await cursor.close()
