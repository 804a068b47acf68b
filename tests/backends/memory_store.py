"""Registers ``InMemoryStore`` with the store conformance suite."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator

from tests.backends import StoreFactory
from waypoint.store.memory import InMemoryStore


@contextlib.asynccontextmanager
async def _memory_store(**kwargs: Any) -> AsyncIterator[InMemoryStore]:
    store = InMemoryStore(**kwargs)
    try:
        yield store
    finally:
        store.stop_ttl_sweeper(timeout=5)


def store_factories() -> dict[str, StoreFactory]:
    return {"memory": _memory_store}
