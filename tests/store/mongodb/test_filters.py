"""Filter translation: no injection from user keys or values, and the store's exact semantics
(checked against ``InMemoryStore``, the reference) on data MongoDB matches differently."""

from __future__ import annotations

from typing import Any

import pytest

from waypoint.errors import InvalidFilterError, SerializationError
from waypoint.store._filters import FilterCondition, compile_filter
from waypoint.store.base import PutOp
from waypoint.store.memory import InMemoryStore
from waypoint.store.mongodb._codec import MARK, escape_key, unescape_key
from waypoint.store.mongodb._filters import field_path, translate

# --- pure translation -----------------------------------------------------------------------


UNSAFE = [("$where",), ("a", "$gt"), ("a.b",), ("a", "b.c"), ("x\x00",), ("",)]


@pytest.mark.parametrize("path", UNSAFE)
def test_unsafe_segments_are_rejected(path: tuple[str, ...]) -> None:
    with pytest.raises(InvalidFilterError):
        field_path(path)
    with pytest.raises(InvalidFilterError):
        translate((FilterCondition(path, "$eq", 1),))


def test_operator_keys_never_reach_a_query() -> None:
    for flt in ({"$where": "sleep(1000)"}, {"a": {"$where": "1"}}, {"$expr": {"$eq": [1, 1]}}):
        with pytest.raises(InvalidFilterError):
            compile_filter(flt)


def test_field_paths_are_escaped_like_stored_keys() -> None:
    assert field_path(("a", "b")) == "value.a.b"
    assert field_path((MARK + "x",)) == "value." + escape_key(MARK + "x")
    for key in ["$where", "a.b", "", "x\x00y", MARK, "100%", "%2E", "plain"]:
        assert unescape_key(escape_key(key)) == key
        assert not escape_key(key).startswith("$") and "." not in escape_key(key)


def _walk(node: Any) -> list[Any]:
    out = [node]
    if isinstance(node, dict):
        for v in node.values():
            out += _walk(v)
    elif isinstance(node, list):
        for v in node:
            out += _walk(v)
    return out


def test_object_and_list_operands_are_never_sent() -> None:
    conditions = compile_filter(
        {"q": {"$eq": {"$where": "x"}}, "r": {"$in": [{"$gt": 1}]}, "s": ["$x"]}
    )
    translation = translate(conditions)
    assert translation.exact is False
    sent = _walk(translation.clauses)
    assert "x" not in sent and {"$gt": 1} not in sent and "$x" not in sent


def test_scalar_filters_translate_exactly() -> None:
    translation = translate(compile_filter({"kind": "a", "n": {"$gt": 1}, "m": {"$nin": ["$x"]}}))
    assert translation.exact is True
    assert {"value.kind": {"$eq": "a", "$not": {"$type": "array"}}} in translation.clauses


# --- against a server ---------------------------------------------------------------------------

TRICKY = {
    "op-dict": {"q": {"$gt": 1}, "s": "$where"},
    "op-dict-2": {"q": {"$where": "return true"}},
    "q-num": {"q": 5, "big": 2**40, "neg": -(2**63)},
    "dotted": {"a.b": 1, "a": {"b": 2}},
    "dollar-key": {"$where": "x", "$in": [1]},
    "marked": {MARK + "k": 1},
    "objs": {"o": {"x": 1, "y": 2}, "l": [["x"]], "arr": [{"b": 1}]},
    "objs-swapped": {"o": {"y": 2, "x": 1}, "l": [["x"], "y"], "arr": {"b": 1}},
    "list": {"l": ["x"], "n": [1, 2], "nan": float("nan")},
    "scalar": {"l": "x", "n": 1, "nan": 1.0},
    "nulls": {"l": None, "n": [None], "o": None},
}

CASES = [
    {"q": {"$eq": {"$gt": 1}}}, {"q": {"$gt": 1}}, {"q": {"$in": [{"$where": "return true"}, 5]}},
    {"q": {"$ne": {"$gt": 1}}}, {"s": "$where"}, {"s": {"$in": ["$where"]}},
    {"a.b": 2}, {"a.b": 1}, {"o": {"x": 1, "y": 2}}, {"o": {"$ne": {"x": 1, "y": 2}}},
    {"l": ["x"]}, {"l": [["x"]]}, {"l": "x"}, {"l": {"$ne": "x"}}, {"l": {"$nin": ["x"]}},
    {"l": None}, {"l": {"$ne": None}}, {"n": {"$gt": 0}}, {"n": 1}, {"n": [1, 2]},
    {"n": {"$in": [[1, 2], 1]}}, {"n": {"$nin": [1]}}, {"n": None}, {"arr.b": 1},
    {"nan": {"$lt": 5}}, {"nan": {"$gte": float("nan")}}, {"nan": {"$ne": float("nan")}},
    {"nan": float("nan")}, {"o.x": 1}, {"big": 2**70}, {"n": {"$ne": 2**70}},
]


async def test_operator_like_values_are_stored_and_matched_literally(mongo_store_factory) -> None:
    reference = InMemoryStore()
    ops = [PutOp(("t",), k, v) for k, v in TRICKY.items()]
    reference.batch(ops)
    async with mongo_store_factory() as store:
        await store.abatch(ops)
        for key, value in TRICKY.items():
            got = (await store.aget(("t",), key)).value
            assert got.keys() == value.keys() and repr(got) == repr(value), key
        for flt in CASES:
            found = await store.asearch(("t",), filter=flt, limit=100)
            expected = reference.search(("t",), filter=flt, limit=100)
            assert [i.key for i in found] == [i.key for i in expected], flt
        # Pagination stays right when MongoDB can only pre-select (object operands).
        page = await store.asearch(("t",), filter={"o": {"$ne": {"x": 1}}}, limit=1, offset=1)
        ref = reference.search(("t",), filter={"o": {"$ne": {"x": 1}}}, limit=1, offset=1)
        assert [i.key for i in page] == [i.key for i in ref]


async def test_stored_field_names_are_never_operators(sync_store) -> None:
    sync_store.put(("t",), "k", {"$where": 1, "a.b": {"$gt": [{"$in": 2}]}})
    raw = sync_store.collection.find_one({"key": "k"})
    assert not any(k.startswith("$") or "." in k for k in _keys(raw["value"]))
    assert sync_store.get(("t",), "k").value == {"$where": 1, "a.b": {"$gt": [{"$in": 2}]}}


def _keys(node: Any) -> list[str]:
    return [k for n in _walk(node) if isinstance(n, dict) for k in n]


async def test_values_mongodb_cannot_hold_are_clear_errors(sync_store) -> None:
    with pytest.raises(SerializationError, match="64 bits"):
        sync_store.put(("t",), "big", {"n": 2**64})
    with pytest.raises(SerializationError, match="str keys"):
        sync_store.put(("t",), "keys", {"d": {1: "x"}})
    with pytest.raises(SerializationError):
        sync_store.put(("t",), "set", {"s": {1, 2}})
    assert sync_store.search(("t",)) == []
