"""The requests MongoDB operations yield, and the two tiny executors that run them.

Each request builds its pymongo call once (``call``); pymongo's sync and async clients share
one API, so that call returns the result for ``MongoClient`` and an awaitable for
``AsyncMongoClient``. The executors (on ``waypoint._mongo``'s loop, shared with the store) add
the session of a transaction and the mapping of driver errors to ``waypoint.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DocumentTooLarge, PyMongoError

from waypoint import _mongo
from waypoint._mongo import Next
from waypoint.errors import StorageError


class TransactionConflict(StorageError):
    """A transaction hit a transient error (write conflict, failover); the op may retry it."""


@dataclass
class Find:
    """Fetch every matching document (bounded queries only): returns a list."""

    coll: str
    filter: dict[str, Any]
    projection: dict[str, Any] | None = None
    sort: list[tuple[str, int]] | None = None
    limit: int = 0

    def call(self, db: Any, session: Any) -> Any:
        return db[self.coll].find(
            self.filter, self.projection, sort=self.sort, limit=self.limit, session=session
        ).to_list()


@dataclass
class Open:
    """Open a cursor (no I/O yet): returns a handle for ``Next``; closed by the executor."""

    coll: str
    filter: dict[str, Any]
    projection: dict[str, Any] | None = None
    sort: list[tuple[str, int]] | None = None
    limit: int = 0
    batch_size: int = 100
    allow_disk_use: bool = False

    def call(self, db: Any, session: Any) -> Any:
        return db[self.coll].find(
            self.filter, self.projection, sort=self.sort, limit=self.limit,
            batch_size=self.batch_size, allow_disk_use=self.allow_disk_use or None, session=session,
        )


@dataclass
class Bulk:
    """One ordered ``bulk_write`` of pymongo write models: returns the BulkWriteResult."""

    coll: str
    ops: list[Any]

    def call(self, db: Any, session: Any) -> Any:
        return db[self.coll].bulk_write(self.ops, ordered=True, session=session)


@dataclass
class Modify:
    """``find_one_and_update`` (an update pipeline allowed): returns the document after the
    update, or None when nothing matched."""

    coll: str
    filter: dict[str, Any]
    update: Any
    upsert: bool = False

    def call(self, db: Any, session: Any) -> Any:
        return db[self.coll].find_one_and_update(
            self.filter, self.update, upsert=self.upsert, return_document=ReturnDocument.AFTER, session=session
        )


@dataclass
class Command:
    """A database command (``{"hello": 1}``): returns the reply document."""

    command: dict[str, Any]

    def call(self, db: Any, session: Any) -> Any:
        return db.command(self.command, session=session)


@dataclass
class Indexes:
    """Create indexes (idempotent)."""

    coll: str
    models: list[Any]

    def call(self, db: Any, session: Any) -> Any:
        return db[self.coll].create_indexes(self.models, session=session)


@dataclass
class Txn:
    """Begin, commit or abort the executor's transaction."""

    action: Literal["begin", "commit", "abort"]


_TOO_LARGE_CODES = {10334, 17419, 17420, 2}


def _storage_error(request: Any, exc: PyMongoError) -> StorageError:
    """One waypoint error per driver failure; the message never embeds the request's documents."""
    if exc.has_error_label("TransientTransactionError") or exc.has_error_label("UnknownTransactionCommitResult"):
        return TransactionConflict(f"MongoDB transaction conflict, retry: {str(exc)[:300]}")
    what = type(request).__name__.lower()
    coll = getattr(request, "coll", None)
    where = f" on collection {coll!r}" if coll else ""
    if isinstance(exc, BulkWriteError):
        first = (exc.details.get("writeErrors") or [{}])[0]
        code, detail = first.get("code"), f"{first.get('errmsg', exc)} (code {first.get('code')})"
    else:
        code, detail = getattr(exc, "code", None), str(exc)
    detail = detail[:500]
    if isinstance(exc, DocumentTooLarge) or (
        code in _TOO_LARGE_CODES and ("large" in detail.lower() or "16777216" in detail)
    ):
        return StorageError(f"MongoDB {what}{where} failed: a document exceeds the 16 MB BSON limit ({detail})")
    return StorageError(f"MongoDB {what}{where} failed: {detail}")


@dataclass
class _Executor:
    client: Any
    db: Any
    session: Any = None
    cursors: list[Any] = field(default_factory=list)

    opens = Open

    def _target(self) -> tuple[Any, ...]:
        return self.db, self.session

    def _error(self, request: Any, exc: Exception) -> Exception:
        return _storage_error(request, exc)  # type: ignore[arg-type]


class SyncExecutor(_Executor, _mongo.SyncExecutor):
    """Runs requests on a ``MongoClient``; use as a context manager so cursors get closed."""

    def _call(self, request: Any) -> Any:
        if isinstance(request, Txn):
            return self._txn(request.action)
        return super()._call(request)

    def _txn(self, action: str) -> None:
        if action == "begin":
            self.session = self.client.start_session()
            self.session.start_transaction()
            return
        session, self.session = self.session, None
        if session is None:
            return
        try:
            if action == "commit":
                session.commit_transaction()
            elif session.in_transaction:
                session.abort_transaction()
        finally:
            session.end_session()

    def _end(self) -> None:
        try:
            self._txn("abort")
        except PyMongoError:
            pass


class AsyncExecutor(_Executor, _mongo.AsyncExecutor):
    """Runs requests on an ``AsyncMongoClient``; use as an async context manager."""

    async def _call(self, request: Any) -> Any:
        if isinstance(request, Txn):
            return await self._txn(request.action)
        return await super()._call(request)

    async def _txn(self, action: str) -> None:
        if action == "begin":
            self.session = self.client.start_session()
            await self.session.start_transaction()
            return
        session, self.session = self.session, None
        if session is None:
            return
        try:
            if action == "commit":
                await session.commit_transaction()
            elif session.in_transaction:
                await session.abort_transaction()
        finally:
            await session.end_session()

    async def _end(self) -> None:
        try:
            await self._txn("abort")
        except PyMongoError:
            pass
