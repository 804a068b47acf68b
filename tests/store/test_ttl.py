"""Unit tests of TTL rules and sweepers (``waypoint.store._ttl``)."""

from __future__ import annotations

import asyncio
import gc
import time
from datetime import datetime, timedelta, timezone

import pytest

from waypoint.errors import ConfigError
from waypoint.store._ttl import (
    NOT_PROVIDED,
    TaskSweeper,
    ThreadSweeper,
    expiry,
    is_expired,
    normalize_ttl_config,
    resolve_refresh,
    resolve_ttl,
    sweep_interval_seconds,
    validate_ttl,
)

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_resolve_ttl():
    assert resolve_ttl(None, NOT_PROVIDED) is None
    assert resolve_ttl({"default_ttl": 5}, NOT_PROVIDED) == 5.0
    assert resolve_ttl({"default_ttl": 5}, None) is None
    assert resolve_ttl({"default_ttl": 5}, 0.5) == 0.5
    assert not NOT_PROVIDED and repr(NOT_PROVIDED) == "NOT_PROVIDED"


@pytest.mark.parametrize("ttl", [0, -1, True, "5", [5]])
def test_invalid_ttls(ttl):
    with pytest.raises(ValueError, match="ttl"):
        validate_ttl(ttl)


def test_resolve_refresh():
    assert resolve_refresh(None, None) is True
    assert resolve_refresh({"refresh_on_read": False}, None) is False
    assert resolve_refresh({"refresh_on_read": False}, True) is True
    assert resolve_refresh({}, False) is False


def test_normalize_ttl_config():
    assert normalize_ttl_config(None) is None
    assert normalize_ttl_config({"default_ttl": 1}) == {"default_ttl": 1, "refresh_on_read": True}
    for bad, fragment in [
        ({"default_ttl": 0}, "default_ttl=0"),
        ({"sweep_interval_minutes": -1}, "sweep_interval_minutes=-1"),
        ({"refresh_on_read": "yes"}, "refresh_on_read='yes'"),
        ({"ttl": 5}, "unknown keys"),
        (5, "must be a dict"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            normalize_ttl_config(bad)  # type: ignore[arg-type]


def test_expiry_boundaries():
    assert expiry(T0, None) is None
    end = expiry(T0, 1.5)
    assert end == T0 + timedelta(seconds=90)
    assert not is_expired(end, end - timedelta(microseconds=1))
    assert is_expired(end, end)
    assert not is_expired(None, T0)


def test_sweep_interval():
    assert sweep_interval_seconds(None, None) == 3600.0
    assert sweep_interval_seconds({"sweep_interval_minutes": 2}, None) == 120.0
    assert sweep_interval_seconds({"sweep_interval_minutes": 2}, 0.5) == 30.0
    with pytest.raises(ValueError):
        sweep_interval_seconds(None, 0)


class Target:
    def __init__(self) -> None:
        self.sweeps = 0

    def sweep(self) -> int:
        self.sweeps += 1
        if self.sweeps == 1:
            raise RuntimeError("a failing sweep is logged and retried")
        return 1


def test_thread_sweeper_runs_survives_errors_and_stops():
    target = Target()
    sweeper = ThreadSweeper(target, lambda t: t.sweep(), 0.02)
    future = sweeper.start()
    deadline = time.monotonic() + 2
    while target.sweeps < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert target.sweeps >= 3 and sweeper.running
    assert sweeper.stop(timeout=2) is True
    assert future.done() and not sweeper.running


def test_thread_sweeper_does_not_keep_its_store_alive():
    target = Target()
    sweeper = ThreadSweeper(target, lambda t: t.sweep(), 0.01)
    future = sweeper.start()
    del target
    gc.collect()
    future.result(timeout=2)  # the thread noticed the store is gone and ended
    assert not sweeper.running


def test_stop_before_start_and_from_its_own_thread():
    sweeper = ThreadSweeper(Target(), lambda t: 0, 10)
    assert sweeper.stop() is True
    results = []
    target = Target()
    own = ThreadSweeper(target, lambda t: results.append(own.stop(1)) or 0, 0.01)
    own.start().result(timeout=2)  # stopping from inside the sweep must not try to join itself
    assert results == [True]


async def test_task_sweeper_runs_and_stops():
    target = Target()

    async def asweep(t: Target) -> int:
        return t.sweep()

    sweeper = TaskSweeper(target, asweep, 0.02)
    task = sweeper.start()
    while target.sweeps < 3:
        await asyncio.sleep(0.01)
    assert sweeper.running
    assert await sweeper.stop(timeout=2) is True
    assert task.done() and not sweeper.running
    assert await TaskSweeper(target, asweep, 1).stop() is True
