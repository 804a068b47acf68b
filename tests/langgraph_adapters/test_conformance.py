"""LangGraph's own checkpointer conformance suite (``langgraph-checkpoint-conformance``) on
every adapter saver, with every capability, base and extended."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES, DetectedCapabilities

from tests.langgraph_adapters._backends import SAVERS


@pytest.mark.parametrize("name", sorted(SAVERS))
async def test_langgraph_conformance_suite(name: str) -> None:
    factory = SAVERS[name]

    @checkpointer_test(name=f"waypoint.langgraph:{name}")
    async def saver():  # the suite's factory: a fresh, empty saver per capability
        async with factory() as s:
            yield s

    async with factory() as probe:
        detected = DetectedCapabilities.from_instance(probe)
    assert detected.detected == ALL_CAPABILITIES, f"not detected: {set(detected.missing)}"

    report = await validate(saver)
    failures = [f"{cap}: {f}" for cap, result in report.results.items() for f in result.failures]
    assert not failures, "\n".join(failures)
    assert {cap for cap, r in report.results.items() if r.passed} == {c.value for c in ALL_CAPABILITIES}
    assert sum(r.tests_passed for r in report.results.values()) > 50
    assert report.passed_all()
