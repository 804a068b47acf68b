"""Prebuilt suite fixtures: every checkpoint saver paired with the store of the same backend
(the in-memory saver with InMemoryStore), opened once per session, and both API faces."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest_asyncio

from tests.backends import saver_factories, store_factories
from tests.hitl.conftest import Face, face  # noqa: F401  (the sync/async face fixture)

_SAVERS = saver_factories()
_STORES = store_factories()
STORE_OF = {"memory": "memory", "sqlite": "sqlite-store", "sqlite-async": "sqlite-store-async",
            "postgres": "postgres-store", "postgres-async": "postgres-store-async",
            "mongodb": "mongodb-store", "mongodb-async": "mongodb-store-async"}


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=sorted(_SAVERS))
async def backend(request: Any) -> AsyncIterator[tuple[Any, Any]]:
    """(saver, store) of one backend."""
    async with _SAVERS[request.param]() as saver, _STORES[STORE_OF[request.param]]() as store:
        yield saver, store
