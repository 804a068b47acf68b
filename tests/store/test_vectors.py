"""Unit tests of the numpy vector matrix (``waypoint.store._vectors``)."""

from __future__ import annotations

import numpy as np
import pytest

from waypoint.errors import ConfigError
from waypoint.store._vectors import VectorMatrix, unit_rows, unit_vector


def test_unit_rows_normalizes_and_keeps_zero_rows():
    rows = unit_rows([[3.0, 4.0], [0.0, 0.0]], 2)
    assert rows.dtype == np.float32
    assert np.allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
    assert unit_rows([], 2).shape == (0, 2)
    source = np.array([[3.0, 4.0]], dtype=np.float32)
    unit_rows(source, 2)
    assert source.tolist() == [[3.0, 4.0]]  # input not modified in place


def test_wrong_dimensions_are_a_config_error():
    with pytest.raises(ConfigError, match="3 dimensions"):
        unit_rows([[1.0, 2.0]], 3)


def test_add_remove_reuse_and_growth():
    m = VectorMatrix(2, capacity=2)
    rows = m.add([[1, 0], [0, 1], [1, 1]])
    assert rows == [0, 1, 2] and len(m) == 3
    m.remove([1])
    assert len(m) == 2
    assert m.add([[2, 0]]) == [1]
    q = unit_vector([1, 0], 2)
    assert m.max_scores([[0], [1], [2]], q) == pytest.approx([1.0, 1.0, 2**-0.5])


def test_max_scores_groups_and_empty_groups():
    m = VectorMatrix(2)
    a = m.add([[1, 0], [0, 1]])
    b = m.add([[-1, 0]])
    for _ in range(10):  # many unrelated rows, so the gather path is used
        m.add([[0.5, 0.5]])
    q = unit_vector([0, 1], 2)
    assert m.max_scores([a, [], b], q) == pytest.approx([1.0, None, 0.0])  # type: ignore[list-item]
    assert m.max_scores([[], []], q) == [None, None]
    assert m.max_scores([], q) == []


def test_full_product_path_matches_gather_path():
    rng = np.random.default_rng(0)
    m = VectorMatrix(8)
    groups = [m.add(rng.normal(size=(3, 8))) for _ in range(20)]
    q = unit_vector(rng.normal(size=8).tolist(), 8)
    full = m.max_scores(groups, q)  # all rows: full product
    few = m.max_scores(groups[:2], q)  # few rows: gather
    assert few == pytest.approx(full[:2], abs=1e-6)
    m.remove(groups[0])
    assert m.max_scores([groups[1]], q) == pytest.approx([full[1]], abs=1e-6)
