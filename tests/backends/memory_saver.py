"""Registers the in-memory checkpoint saver with the conformance suites."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from waypoint.checkpoint.memory import InMemorySaver


@asynccontextmanager
async def _memory() -> AsyncIterator[Any]:
    yield InMemorySaver()


def saver_factories() -> dict[str, Any]:
    return {"memory": _memory}
