"""Fixtures that parametrize the conformance suites over every registered backend and API face."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest

from tests.backends import saver_factories, store_factories
from tests.conformance.api import Api

_SAVERS = saver_factories()
_STORES = store_factories()


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Api:
    return Api(request.param)


@pytest.fixture(params=sorted(_SAVERS))
async def saver(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    async with _SAVERS[request.param]() as s:
        yield s


@pytest.fixture(params=sorted(_STORES))
def store_factory(request: pytest.FixtureRequest) -> Any:
    """A callable ``store_factory(**kwargs)`` -> async context manager yielding a store."""
    return _STORES[request.param]
