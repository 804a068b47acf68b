"""Hostile input gives the same answer on every backend, through both faces (issue 19 #4, #7,
#9, #11): NUL characters and lone surrogates in ids, keys, namespaces and filters are refused
with named errors (PostgreSQL cannot store NUL, SQLite's JSON functions cut text at it, no
driver can send a lone surrogate); numeric filter path parts are object keys; filters with
thousands of ``$in`` values or keys work; out-of-range TTLs, limits and offsets are named
errors or answered, never a raw exception.
"""

from __future__ import annotations

import math
from typing import Any, AsyncIterator

import pytest

from tests.backends import store_factories
from waypoint.checkpoint.base import empty_checkpoint
from waypoint.store.base import GetOp, PutOp
from waypoint.errors import (
    ConfigError,
    InvalidFilterError,
    InvalidKeyError,
    InvalidNamespaceError,
    SerializationError,
)

_PLAIN_STORES = {k: v for k, v in store_factories().items() if not k.startswith("pgvector")}


@pytest.fixture(params=sorted(_PLAIN_STORES))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    async with _PLAIN_STORES[request.param]() as s:
        yield s


def cfg(thread_id: Any, ns: str = "", checkpoint_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


BAD_TEXT = ["ali\x00ce", "\ud800", "x\udfffy"]


# --- checkpoint savers -----------------------------------------------------------------------


async def test_metadata_filters_with_nul_or_surrogates_are_refused(saver, api):
    await api.call(saver, "put", cfg("alice-thread"), empty_checkpoint(), {"owner": "alice"}, {})
    await api.call(saver, "put", cfg("other"), empty_checkpoint(), {"owner": "alice\x00"}, {})
    await api.call(saver, "put", cfg("keyed"), empty_checkpoint(), {"own\x00er": "alice"}, {})
    for bad in BAD_TEXT:
        for flt in ({"owner": bad}, {bad: "alice"}, {"owner": {"nested": [bad]}}):
            with pytest.raises(InvalidFilterError, match="NUL|surrogate"):
                await api.call(saver, "list", None, filter=flt)
    # metadata holding a NUL is stored exactly and read back, just not filterable
    got = await api.call(saver, "get_tuple", cfg("other"))
    assert got.metadata["owner"] == "alice\x00"
    found = await api.call(saver, "list", None, filter={"owner": "alice"})
    assert [t.config["configurable"]["thread_id"] for t in found] == ["alice-thread"]


async def test_ids_with_nul_or_surrogates_are_refused(saver, api):
    await api.call(saver, "put", cfg("t1"), empty_checkpoint(), {}, {})
    for bad in BAD_TEXT:
        with pytest.raises(ConfigError, match="thread_id"):
            await api.call(saver, "put", cfg(bad), empty_checkpoint(), {}, {})
        with pytest.raises(ConfigError, match="thread_id"):
            await api.call(saver, "get_tuple", cfg(bad))
        with pytest.raises(ConfigError, match="checkpoint_ns"):
            await api.call(saver, "get_tuple", cfg("t1", ns=bad))
        with pytest.raises(ConfigError, match="checkpoint_id"):
            await api.call(saver, "get_tuple", cfg("t1", checkpoint_id=bad))
        with pytest.raises(ConfigError, match="thread_id"):
            await api.call(saver, "list", cfg(bad))
    assert len(await api.call(saver, "list", None)) == 1


async def test_list_with_huge_limit_lists_everything(saver, api):
    for t in ("a", "b", "c"):
        await api.call(saver, "put", cfg(t), empty_checkpoint(), {}, {})
    for limit in (2**63, 2**64, 10**30):
        assert len(await api.call(saver, "list", None, limit=limit)) == 3


async def test_metadata_filter_with_1500_keys(saver, api):
    metadata = {f"k{i}": i for i in range(1500)}
    await api.call(saver, "put", cfg("t1"), empty_checkpoint(), metadata, {})
    await api.call(saver, "put", cfg("t2"), empty_checkpoint(), {**metadata, "k7": -1}, {})
    found = await api.call(saver, "list", None, filter=metadata)
    assert [t.config["configurable"]["thread_id"] for t in found] == ["t1"]


# --- stores ----------------------------------------------------------------------------------


async def test_store_text_rules(store, api):
    await api.call(store, "put", ("a",), "k", {"v": 1})
    for bad in BAD_TEXT:
        for call, args in (
            ("put", (("a", bad), "k", {"v": 1})),
            ("get", ((bad,), "k")),
            ("search", ((bad,),)),
            ("delete", ((bad,), "k")),
        ):
            with pytest.raises(InvalidNamespaceError, match="NUL|surrogate"):
                await api.call(store, call, *args)
        with pytest.raises(InvalidNamespaceError, match="NUL|surrogate"):
            await api.call(store, "list_namespaces", prefix=(bad,))
        with pytest.raises(InvalidKeyError, match="NUL|surrogate"):
            await api.call(store, "put", ("a",), bad, {"v": 1})
        with pytest.raises(InvalidKeyError, match="NUL|surrogate"):
            await api.call(store, "get", ("a",), bad)
        for flt in ({"v": bad}, {bad: 1}, {"v": {"$in": [1, bad]}}, {"v": {"$gt": bad}}, {"v": {"$eq": {"x": bad}}}):
            with pytest.raises(InvalidFilterError, match="NUL|surrogate"):
                await api.call(store, "search", ("a",), filter=flt)
    with pytest.raises(SerializationError, match="surrogate"):
        await api.call(store, "put", ("a",), "k2", {"v": ["ok", {"deep": "\ud800"}]})
    with pytest.raises(SerializationError, match="surrogate"):
        await api.call(store, "put", ("a",), "k2", {"\udc00": 1})
    ops = [PutOp(("a",), "first", {"v": 1}), GetOp(("a",), "k"), PutOp(("a",), "bad", {"v": "x\ud800"})]
    with pytest.raises(SerializationError, match="surrogate"):
        await api.call(store, "batch", ops)
    assert await api.call(store, "get", ("a",), "first") is None  # nothing of the batch applied
    assert await api.call(store, "list_namespaces") == [("a",)]
    assert await api.call(store, "get", ("a",), "k2") is None


async def test_store_value_with_nul_round_trips_or_is_refused_by_name(store, api):
    """PostgreSQL's jsonb cannot hold NUL: a named error there, an exact round trip elsewhere."""
    value = {"text": "a\x00b", "list": ["\x00"]}
    if type(store).__name__.endswith("PostgresStore"):
        with pytest.raises(SerializationError, match="NUL"):
            await api.call(store, "put", ("a",), "k", value)
        assert await api.call(store, "get", ("a",), "k") is None
    else:
        await api.call(store, "put", ("a",), "k", value)
        assert (await api.call(store, "get", ("a",), "k")).value == value


async def test_store_numeric_path_parts_are_object_keys(store, api):
    await api.call(store, "put", ("a",), "arr", {"tags": ["x", "y"], "n": [5]})
    await api.call(store, "put", ("a",), "obj", {"tags": {"0": "x", "1": "y"}, "n": {"0": 5}})
    for flt, expected in (
        ({"tags.0": "x"}, ["obj"]),
        ({"tags.1": "y"}, ["obj"]),
        ({"tags.0": {"$in": ["x"]}}, ["obj"]),
        ({"tags.0": {"$gte": "a"}}, ["obj"]),
        ({"n.0": {"$gt": 1}}, ["obj"]),
        ({"n.0": 5}, ["obj"]),
        ({"tags": ["x", "y"]}, ["arr"]),
    ):
        assert sorted(i.key for i in await api.call(store, "search", ("a",), filter=flt)) == expected, flt


async def test_store_filters_with_thousands_of_values_or_keys(store, api):
    await api.call(store, "put", ("a",), "s", {"v": "needle", "n": 3.0})
    await api.call(store, "put", ("a",), "n", {"v": 7, "n": 4})
    await api.call(store, "put", ("a",), "b", {"v": True, "n": 5})
    many = [f"hay{i}" for i in range(3000)]
    numbers = list(range(100, 3100))

    async def found(flt: dict[str, Any]) -> list[str]:
        return sorted(i.key for i in await api.call(store, "search", ("a",), filter=flt, limit=10))

    assert await found({"v": {"$in": [*many, "needle"]}}) == ["s"]
    assert await found({"v": {"$in": [*numbers, 7.0]}}) == ["n"]
    assert await found({"v": {"$in": [*many, *numbers, True, None, {"x": 1}, [1]]}}) == ["b"]
    assert await found({"v": {"$nin": [*many, "needle", *numbers]}}) == ["b", "n"]
    assert await found({"n": {"$in": [*numbers[:1500], 3]}}) == ["s"]
    assert await found({f"missing{i}": {"$ne": i} for i in range(1200)}) == []
    doc = {f"f{i}": i for i in range(1200)}
    await api.call(store, "put", ("a",), "wide", doc)
    assert await found(doc) == ["wide"]
    assert await found({**doc, "f5": {"$in": list(range(6, 2000))}}) == []


async def test_store_ttl_out_of_range_is_a_config_error(store, api):
    for ttl in (math.inf, 1e300, math.nan, -1, 0, 10**20):
        with pytest.raises(ConfigError, match="ttl"):
            await api.call(store, "put", ("a",), "k", {"v": 1}, ttl=ttl)
    await api.call(store, "put", ("a",), "k", {"v": 1}, ttl=500 * 365 * 24 * 60)
    assert (await api.call(store, "get", ("a",), "k")).value == {"v": 1}


async def test_store_huge_limit_and_offset(store, api):
    for k in ("k1", "k2"):
        await api.call(store, "put", ("a", k), k, {"v": 1})
    assert len(await api.call(store, "search", ("a",), limit=2**63)) == 2
    assert len(await api.call(store, "search", ("a",), limit=10**30, filter={"v": 1})) == 2
    assert await api.call(store, "search", ("a",), offset=2**63) == []
    assert len(await api.call(store, "list_namespaces", limit=2**63)) == 2
    assert await api.call(store, "list_namespaces", offset=2**64) == []
