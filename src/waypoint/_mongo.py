"""The executor loop shared by the MongoDB saver and store, sync and async.

A request builds its pymongo call once (``request.call(*target)``); pymongo's sync and async
clients share one API, so the call returns a result for ``MongoClient`` and an awaitable for
``AsyncMongoClient``. An executor adds only the waiting, the cursors to close on exit and the
mapping of driver errors (``errors``) through its backend's ``_error``. A backend's executor
says what its requests are called with (``_target``), which request opens a cursor
(``opens``), and may handle requests of its own first (``_call``) or clean up last (``_end``).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from pymongo.errors import PyMongoError


@dataclass
class Next:
    """Up to ``n`` more documents of an open cursor; an empty list once it is exhausted."""

    cursor: Any
    n: int

    def call(self, *_: Any) -> Any:
        return self.cursor.to_list(self.n)


class _Executor(ABC):
    """What a backend's executors share; each backend says what a request runs against
    (``_target``) and how a driver error is mapped (``_error``)."""

    opens: ClassVar[type]
    errors: ClassVar[tuple[type[BaseException], ...]] = (PyMongoError,)
    cursors: list[Any]

    @abstractmethod
    def _target(self) -> tuple[Any, ...]:
        """The arguments every request's ``call`` receives (client, database, session, ...)."""

    @abstractmethod
    def _error(self, request: Any, exc: Exception) -> Exception:
        """The waypoint error to raise for a driver error while running ``request``."""

    def _track(self, request: Any, result: Any) -> Any:
        if isinstance(request, self.opens):
            self.cursors.append(result)
        return result


class SyncExecutor(_Executor):
    """Runs requests on a sync client; a context manager that closes its cursors."""

    def __call__(self, request: Any) -> Any:
        try:
            return self._call(request)
        except self.errors as exc:
            raise self._error(request, exc) from exc

    def _call(self, request: Any) -> Any:
        return self._track(request, request.call(*self._target()))

    def _end(self) -> None:
        """Called on exit after the cursors are closed."""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        for cursor in self.cursors:
            cursor.close()
        self._end()


class AsyncExecutor(_Executor):
    """Runs requests on an async client; an async context manager that closes its cursors."""

    async def __call__(self, request: Any) -> Any:
        try:
            return await self._call(request)
        except self.errors as exc:
            raise self._error(request, exc) from exc

    async def _call(self, request: Any) -> Any:
        result = request.call(*self._target())
        if inspect.isawaitable(result):
            result = await result
        return self._track(request, result)

    async def _end(self) -> None:
        """Called on exit after the cursors are closed."""

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for cursor in self.cursors:
            await cursor.close()
        await self._end()


__all__ = ["AsyncExecutor", "Next", "SyncExecutor"]
