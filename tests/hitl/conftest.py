"""HITL suite fixtures: every registered checkpoint saver x both API faces.

``face`` runs the graph API either through the sync methods (in a worker thread, as a sync
program would call them; async-only savers serve sync calls from non-loop threads) or through
the async twins, so each test is written once.

One saver per backend serves the whole session (databases are slow to create); every test
gets its own ``thread_id`` from the ``config`` fixture, so tests stay isolated. Test modules
set ``pytestmark = LOOP`` so they run on the session loop the async savers were opened on.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

from tests.backends import saver_factories

_SAVERS = saver_factories()
LOOP = pytest.mark.asyncio(loop_scope="session")


class Face:
    """Calls a compiled graph's sync methods (in a thread) or their async twins."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __repr__(self) -> str:
        return f"Face({self.mode})"

    async def invoke(self, graph: Any, input: Any, config: dict, **kwargs: Any) -> Any:
        if self.mode == "sync":
            return await asyncio.to_thread(lambda: graph.invoke(input, config, **kwargs))
        return await graph.ainvoke(input, config, **kwargs)

    async def stream(self, graph: Any, input: Any, config: dict, **kwargs: Any) -> list[Any]:
        if self.mode == "sync":
            return await asyncio.to_thread(lambda: list(graph.stream(input, config, **kwargs)))
        return [c async for c in graph.astream(input, config, **kwargs)]

    async def get_state(self, graph: Any, config: dict, **kwargs: Any) -> Any:
        if self.mode == "sync":
            return await asyncio.to_thread(lambda: graph.get_state(config, **kwargs))
        return await graph.aget_state(config, **kwargs)

    async def history(self, graph: Any, config: dict, **kwargs: Any) -> list[Any]:
        if self.mode == "sync":
            return await asyncio.to_thread(lambda: list(graph.get_state_history(config, **kwargs)))
        return [s async for s in graph.aget_state_history(config, **kwargs)]

    async def update_state(self, graph: Any, config: dict, values: Any, as_node: str | None = None) -> Any:
        if self.mode == "sync":
            return await asyncio.to_thread(lambda: graph.update_state(config, values, as_node=as_node))
        return await graph.aupdate_state(config, values, as_node=as_node)


@pytest.fixture(params=["sync", "async"])
def face(request: pytest.FixtureRequest) -> Face:
    return Face(request.param)


@pytest_asyncio.fixture(scope="session", loop_scope="session", params=sorted(_SAVERS))
async def saver(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    async with _SAVERS[request.param]() as s:
        yield s


@pytest.fixture
def config() -> dict[str, Any]:
    """A fresh thread for each test."""
    return {"configurable": {"thread_id": f"hitl-{uuid.uuid4().hex}"}}
