"""Fixtures: a MongoDB store of each flavour on its own database (dropped afterwards)."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from tests.backends.mongodb_store import mongodb_store, mongodb_store_async

FACTORIES = {"sync": mongodb_store, "async": mongodb_store_async}


@pytest.fixture(params=sorted(FACTORIES))
def mongo_store_factory(request: pytest.FixtureRequest) -> Any:
    """``factory(**kwargs)`` -> async context manager yielding a ready MongoDB store."""
    return FACTORIES[request.param]


@pytest.fixture
async def async_store() -> AsyncIterator[Any]:
    async with mongodb_store_async() as store:
        yield store


@pytest.fixture
async def sync_store() -> AsyncIterator[Any]:
    async with mongodb_store() as store:
        yield store
