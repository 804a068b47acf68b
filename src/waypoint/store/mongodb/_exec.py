"""The requests the store's operations yield, and the sync and async executors that run them.

A request builds its pymongo call once (``call(collection)``); pymongo's sync and async
collections share one API, so the call returns a result for ``MongoClient`` and an awaitable
for ``AsyncMongoClient``. The executors run on ``waypoint._mongo``'s loop (shared with the
saver) and add the one mapping of driver errors to ``waypoint.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bson.errors import InvalidDocument
from pymongo.errors import BulkWriteError, PyMongoError

from waypoint import _mongo
from waypoint._mongo import Next
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

    opens = Open
    errors = (PyMongoError, InvalidDocument)

    def _target(self) -> tuple[Any, ...]:
        return (self.coll,)

    def _error(self, request: Any, exc: Exception) -> Exception:
        return _error(request, exc)


class SyncExecutor(_Executor, _mongo.SyncExecutor):
    """Runs requests on a sync collection; a context manager that closes its cursors."""


class AsyncExecutor(_Executor, _mongo.AsyncExecutor):
    """Runs requests on an ``AsyncMongoClient`` collection; an async context manager."""
