"""Every public name of LangGraph 1.2's engine-feature modules exists at the same waypoint
path (caching, managed values, channels, the low-level Pregel API, run control, errors)."""

import importlib

import pytest

MODULES = [
    "managed", "managed.base", "managed.is_last_step", "channels", "pregel",
    "cache.base", "cache.memory", "cache.sqlite", "errors",
]
# module-level imports of LangGraph's own implementation, not API
IMPORTS = {"datetime", "sqlite3"}


@pytest.mark.parametrize("module", MODULES)
def test_public_names_exist(module: str) -> None:
    lg = importlib.import_module(f"langgraph.{module}")
    wp = importlib.import_module(f"waypoint.{module}")
    names = getattr(lg, "__all__", None) or [n for n in dir(lg) if not n.startswith("_")]
    missing = [n for n in names if n not in IMPORTS and not hasattr(wp, n)]
    assert missing == []


@pytest.mark.parametrize("name", ["CachePolicy", "TimeoutPolicy", "RetryPolicy"])
def test_policy_types(name: str) -> None:
    import langgraph.types as lg
    import waypoint.types as wp

    lg_fields = getattr(getattr(lg, name), "__dataclass_fields__", None) or getattr(lg, name)._fields
    wp_fields = getattr(getattr(wp, name), "__dataclass_fields__", None) or getattr(wp, name)._fields
    assert list(wp_fields) == list(lg_fields)


def test_run_control_and_runtime_names() -> None:
    from waypoint.runtime import RunControl

    ctl = RunControl()
    assert (ctl.drain_requested, ctl.drain_reason) == (False, None)
    ctl.request_drain()
    assert (ctl.drain_requested, ctl.drain_reason) == (True, "shutdown")
