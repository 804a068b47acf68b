"""Unit tests of the filter compiler and matcher (``waypoint.store._filters``)."""

from __future__ import annotations

import math

import pytest

from waypoint.errors import InvalidFilterError
from waypoint.store._filters import (
    MISSING,
    FilterCondition,
    compare,
    compile_filter,
    get_path,
    json_equal,
    json_kind,
    match_filter,
    matches,
    parse_filter_key,
)


def test_compile_normalizes_equality_and_operators():
    conds = compile_filter({"a": 1, "b.c": {"$gt": 2, "$in": (1, 2)}, "d": (1, [2, (3,)])})
    assert conds == (
        FilterCondition(("a",), "$eq", 1),
        FilterCondition(("b", "c"), "$gt", 2),
        FilterCondition(("b", "c"), "$in", [1, 2]),
        FilterCondition(("d",), "$eq", [1, [2, [3]]]),
    )
    assert compile_filter(None) == () and compile_filter({}) == ()


def test_plain_object_without_operators_is_whole_object_equality():
    [cond] = compile_filter({"meta": {"lang": "en"}})
    assert cond == FilterCondition(("meta",), "$eq", {"lang": "en"})
    assert match_filter({"meta": {"lang": "en"}}, {"meta": {"lang": "en"}})
    assert not match_filter({"meta": {"lang": "en"}}, {"meta": {"lang": "en", "x": 1}})


@pytest.mark.parametrize(
    "flt, fragment",
    [
        ({"n": {"$regex": "x"}}, "unknown operator '$regex'"),
        ({"": 1}, "invalid filter key ''"),
        ({"a..b": 1}, "'a..b'"),
        ({"a.": 1}, "'a.'"),
        ({"$or": []}, "logical operators"),
        ({"a.$b": 1}, "starts with '$'"),
        ({1: 1}, "invalid filter key 1"),
        ({"n": {"$in": "ab"}}, "takes a list"),
        ({"n": {"$nin": 3}}, "takes a list"),
        ({"n": {"$gt": None}}, "compares numbers or strings"),
        ({"n": {"$lte": True}}, "compares numbers or strings"),
        ({"n": {"$gt": 1, "x": 2}}, "mixes operators"),
        ({"n": object()}, "not JSON data"),
        ({"n": {"$eq": {1: 2}}}, "str keys"),
        ([("a", 1)], "must be a dict"),
    ],
)
def test_invalid_filters_name_the_problem(flt, fragment):
    with pytest.raises(InvalidFilterError) as info:
        compile_filter(flt)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_invalid_filter_error_is_a_value_error():
    with pytest.raises(ValueError):
        compile_filter({"n": {"$bad": 1}})


def test_parse_filter_key():
    assert parse_filter_key("a") == ("a",)
    assert parse_filter_key("a.b.c") == ("a", "b", "c")


def test_get_path_walks_objects_only():
    value = {"a": {"b": [1, 2]}, "n": None}
    assert get_path(value, ("a", "b")) == [1, 2]
    assert get_path(value, ("n",)) is None
    assert get_path(value, ("a", "b", "0")) is MISSING
    assert get_path(value, ("x",)) is MISSING
    assert get_path(value, ("n", "x")) is MISSING


def test_json_equal_is_exact():
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1) and not json_equal(0, False)
    assert json_equal([1, {"a": (2,)}], [1.0, {"a": [2]}])
    assert not json_equal([1], [1, 2])
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert json_equal(None, None) and not json_equal(None, 0)
    assert not json_equal("1", 1)


def test_compare_only_numbers_with_numbers_and_strings_with_strings():
    assert compare(2, 1.5) == 1 and compare("a", "b") == -1 and compare(3, 3.0) == 0
    for a, b in [("2", 1), (1, "2"), (True, 0), (None, 1), ([1], [0]), ({}, {}), (math.nan, 1)]:
        assert compare(a, b) is None


def test_json_kind():
    assert [json_kind(v) for v in (None, True, 1, 1.5, "s", [], (), {})] == [
        "null", "bool", "number", "number", "string", "array", "array", "object",
    ]
    assert json_kind(object()) is None


def test_gt_on_missing_or_mixed_values_never_raises():
    # LangGraph's in-memory store raises "could not convert string to float" here.
    values = [{"text": "hello"}, {"text": 5}, {}, {"text": None}, {"text": [1]}, {"text": {}}]
    for op in ("$gt", "$gte", "$lt", "$lte"):
        numeric = compile_filter({"text": {op: 4.99}})
        assert [matches(numeric, v) for v in values] == [False, op in ("$gt", "$gte"), False,
                                                         False, False, False]
        textual = compile_filter({"text": {op: "a"}})
        assert [matches(textual, v) for v in values] == [op in ("$gt", "$gte"), False, False,
                                                         False, False, False]


def test_missing_key_matches_no_operator():
    for cond in ({"$eq": None}, {"$ne": 1}, {"$in": [None]}, {"$nin": [1]}, {"$gt": 0}):
        assert not match_filter({"x": cond}, {"y": 1}), cond


def test_ne_and_nin_match_present_different_values():
    assert match_filter({"x": {"$ne": 1}}, {"x": "1"})
    assert match_filter({"x": {"$ne": 1}}, {"x": True})
    assert not match_filter({"x": {"$ne": 1}}, {"x": 1.0})
    assert match_filter({"x": {"$nin": []}}, {"x": 1})
    assert not match_filter({"x": {"$in": []}}, {"x": 1})


def test_all_conditions_must_hold():
    flt = compile_filter({"a": {"$gte": 1, "$lt": 3}, "b.c": "x"})
    assert matches(flt, {"a": 2, "b": {"c": "x"}})
    assert not matches(flt, {"a": 3, "b": {"c": "x"}})
    assert not matches(flt, {"a": 2, "b": {"c": "y"}})
    assert matches((), {"anything": 1})


def test_non_json_stored_values_compare_by_type():
    from datetime import date

    assert json_equal(date(2024, 1, 1), date(2024, 1, 1))
    assert not json_equal(date(2024, 1, 1), "2024-01-01")
