"""Fixtures of the MongoDB saver tests: a saver per test on its own database (dropped after),
and an executor that counts requests and documents read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.backends.mongodb_saver import mongodb_async_saver, mongodb_sync_saver
from waypoint._ops import run
from waypoint.checkpoint.mongodb._exec import SyncExecutor


@pytest.fixture
async def saver() -> AsyncIterator[Any]:
    async with mongodb_sync_saver() as s:
        yield s


@pytest.fixture
async def asaver() -> AsyncIterator[Any]:
    async with mongodb_async_saver() as s:
        yield s


class Recording:
    """Wraps a real executor: records every request and counts documents returned."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.requests: list[Any] = []
        self.docs = 0

    def __call__(self, request: Any) -> Any:
        self.requests.append(request)
        result = self.inner(request)
        if isinstance(result, list):
            self.docs += len(result)
        return result


@pytest.fixture
def recorded(saver: Any) -> Iterator[Any]:
    """``recorded(op) -> (result, Recording)``: run a core operation on ``saver``'s database."""

    def go(op: Any) -> tuple[Any, Recording]:
        with SyncExecutor(saver.client, saver.db) as ex:
            rec = Recording(ex)
            return run(op, rec), rec

    yield go
