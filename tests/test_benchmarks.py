"""The benchmarks' quick mode runs once in the test suite so the benchmarks never rot.

No timing assertions: only that every workload ran against both libraries and produced rows
with the expected columns and figures.
"""

from __future__ import annotations

import importlib

import pytest

from benchmarks import _harness as h
from benchmarks.__main__ import WORKLOADS, run_workloads

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_results() -> dict:
    return run_workloads(list(WORKLOADS), quick=True)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_workload_produces_rows(quick_results: dict, name: str) -> None:
    module = importlib.import_module(WORKLOADS[name])
    rows = quick_results[name]["rows"]
    assert rows, f"{name} produced no rows"
    for row in rows:
        missing = [k for k in module.KEYS if k not in row]
        assert not missing, f"{name} row lacks {missing}: {row}"
    assert h.to_markdown(rows).count("\n") == len(rows) + 1


def test_every_comparison_has_both_figures(quick_results: dict) -> None:
    for name in ("steps", "store", "concurrency"):
        for row in quick_results[name]["rows"]:
            assert row["waypoint"] is not None and row["langgraph"] is not None, (name, row)
    growth = quick_results["growth"]["rows"]
    assert {r["backend"] for r in growth} == {"memory", "sqlite", "postgres"}
    for row in growth:
        if row["metric"] == "bytes stored":
            assert row["waypoint"] and row["langgraph"] and row["langgraph delta"], row
    for row in quick_results["serde"]["rows"]:
        assert row["waypoint_us"] > 0 and row["langgraph_us"] > 0, row


def test_no_writer_failed_outright(quick_results: dict) -> None:
    # errors under contention are a finding, not a test failure; but a run that wrote nothing
    # means the workload itself is broken
    for row in quick_results["concurrency"]["rows"]:
        assert row["waypoint"] > 0 and row["langgraph"] > 0, row


def test_harness_helpers() -> None:
    assert h.check(0.4, "<= 0.5") == "yes"
    assert h.check(0.6, "<= 0.5") == "NO"
    assert h.check(2.5, ">= 2") == "yes"
    assert h.check(None, ">= 2") == "n/a"
    assert h.check(1.0, "") == ""
    assert abs(h.fit_exponent([10, 100, 1000], [5, 500, 50000]) - 2.0) < 1e-9
    samples = h.alternate({"a": lambda rep: 1.0, "b": lambda rep: None}, repeats=1)
    assert len(samples["a"]) == h.MIN_REPEATS and len(samples["b"]) == h.MIN_REPEATS
    row = h.compare(1.0, 4.0, "<= 0.5")
    assert row["ratio"] == 0.25 and row["met?"] == "yes"
