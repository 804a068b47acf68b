"""Backend registry for the conformance suites.

Every module in this package may define two functions:

``saver_factories() -> dict[str, SaverFactory]``
    name -> zero-argument callable returning an *async context manager* that yields a ready
    checkpoint saver (schema set up, empty, isolated: its own file/database/schema) and cleans
    up on exit. Names: ``"memory"``, ``"sqlite"``, ``"sqlite-async"``, ``"postgres"``, ...

``store_factories() -> dict[str, StoreFactory]``
    name -> callable ``factory(**store_kwargs)`` (``index=``, ``ttl_config=``) returning an
    async context manager that yields a ready, empty, isolated store.

A factory whose server is unavailable should ``pytest.skip`` only when the environment
variable ``WAYPOINT_TEST_REQUIRE_ALL`` is unset; CI sets nothing and servers are started by the
fixtures themselves, so in practice nothing skips.

A backend joins every conformance suite (savers, stores, HITL) by adding a module here.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, AsyncContextManager, Callable

SaverFactory = Callable[[], AsyncContextManager[Any]]
StoreFactory = Callable[..., AsyncContextManager[Any]]


def _modules() -> list[Any]:
    mods = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mods.append(importlib.import_module(f"{__name__}.{info.name}"))
    return mods


def saver_factories() -> dict[str, SaverFactory]:
    out: dict[str, SaverFactory] = {}
    for mod in _modules():
        if hasattr(mod, "saver_factories"):
            out.update(mod.saver_factories())
    return out


def store_factories() -> dict[str, StoreFactory]:
    out: dict[str, StoreFactory] = {}
    for mod in _modules():
        if hasattr(mod, "store_factories"):
            out.update(mod.store_factories())
    return out
