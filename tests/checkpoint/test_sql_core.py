"""Unit tests of the pure SQL core: no database, just requests, parameters and decoders."""

from __future__ import annotations

from typing import Any

import pytest

from waypoint._ops import Emit
from waypoint.checkpoint._sql import codec, ops
from waypoint.checkpoint._sql.dialect import select_where
from waypoint.checkpoint._sql.postgres_sql import POSTGRES
from waypoint.checkpoint._sql.requests import Execute, ExecuteMany, Fetch
from waypoint.checkpoint._sql.sqlite_sql import SQLITE
from waypoint.checkpoint.base import LogHint, empty_checkpoint
from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer
from waypoint.errors import ConfigError, CorruptCheckpointError

EVIL = "x'); DROP TABLE waypoint_checkpoints; --\"$.a[0]"
DIALECTS = [SQLITE, POSTGRES]
serde = JsonPlusSerializer()


def drain(op: Any, results: list[Any] | None = None) -> list[Any]:
    """Run an op feeding canned results; returns every request it yielded."""
    results = list(results or [])
    seen = []
    try:
        request = next(op)
        while True:
            seen.append(request)
            reply = None if isinstance(request, (Emit, Execute, ExecuteMany)) else (results.pop(0) if results else [])
            request = op.send(reply)
    except StopIteration:
        return seen


def sql_of(request: Any) -> str:
    return request.sql


@pytest.mark.parametrize("d", DIALECTS, ids=lambda d: d.name)
def test_user_values_only_ever_travel_as_parameters(d: Any) -> None:
    where, params = select_where(
        d, thread_id=EVIL, checkpoint_ns=EVIL, checkpoint_id=EVIL, before_id=EVIL,
        after=(EVIL, EVIL, EVIL), filter={EVIL: EVIL, "n": {EVIL: [EVIL]}},
    )
    assert "DROP" not in where and "x'" not in where
    assert params.count(EVIL) == (8 if d.name == "sqlite" else 7)  # keys, before, keyset, filter key
    config = {"configurable": {"thread_id": EVIL, "checkpoint_ns": EVIL, "checkpoint_id": EVIL}}
    cp = empty_checkpoint()
    cp["channel_values"] = {EVIL: [EVIL], "v": EVIL}
    cp["channel_versions"] = {EVIL: "1", "v": "1"}
    cp["channel_logs"] = {EVIL: LogHint("0", 0)}
    requests = []
    for op in (
        ops.get_tuple(d, serde, config),
        ops.list_checkpoints(d, serde, config, filter={EVIL: EVIL}, before=config, limit=3),
        ops.put(d, serde, config, cp, {EVIL: EVIL}, {EVIL: "1", "v": "1"}),
        ops.put_writes(d, serde, config, [(EVIL, EVIL)], EVIL, EVIL),
        ops.delete_thread(d, EVIL),
        ops.delete_for_runs(d, [EVIL]),
        ops.copy_thread(d, EVIL, EVIL),
        ops.prune(d, [EVIL], "keep_latest", None),
    ):
        requests += drain(op)
    assert requests
    for request in requests:
        if isinstance(request, Emit):
            continue
        assert "DROP" not in request.sql, request.sql
        assert ("?" if d.name == "postgres" else "%s") not in request.sql


@pytest.mark.parametrize("d", DIALECTS, ids=lambda d: d.name)
def test_get_tuple_is_one_request_and_put_one_transactions_worth(d: Any) -> None:
    config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    assert [type(r) for r in drain(ops.get_tuple(d, serde, config))] == [Fetch]
    cp = empty_checkpoint()
    cp["channel_values"] = {"a": 1, "big": "x" * 1000, "log": ["x"]}
    cp["channel_versions"] = {"a": "1", "big": "1", "log": "1"}
    cp["channel_logs"] = {"log": LogHint(None, 0)}
    kinds = [type(r) for r in drain(ops.put(d, serde, config, cp, {}, {"a": "1", "big": "1", "log": "1"}))]
    assert kinds == [ExecuteMany, ExecuteMany, ExecuteMany, Execute]  # blob, lineage, page, row
    # a put with a parent reads it first (one primary-key lookup); a small value is inline
    config["configurable"]["checkpoint_id"] = "parent"
    cp["channel_values"] = {"a": 1}
    kinds = [type(r) for r in drain(ops.put(d, serde, config, cp, {}, {"a": "2"}))]
    assert kinds == [Fetch, Execute]


@pytest.mark.parametrize("d", DIALECTS, ids=lambda d: d.name)
def test_listing_pages_by_keyset_and_stops(d: Any) -> None:
    op = ops.list_checkpoints(d, serde, None, limit=3, page_size=2)
    first = next(op)
    assert isinstance(first, Fetch) and first.params[-1] == 2
    with pytest.raises(StopIteration):  # a short page ends the listing
        op.send([])


def test_missing_thread_id_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="thread_id"):
        drain(ops.get_tuple(SQLITE, serde, {"configurable": {}}))


def _rows(**override: Any) -> list[tuple[Any, ...]]:
    t, b = serde.dumps_typed({"v": 1, "ts": "now", "versions_seen": {}, "updated_channels": None})
    vt, vb = serde.dumps_typed("hello")
    rows = {
        "c": ("c", "t", "", "c1", None, '{"ch": "1", "log": "1"}', '{"step": 1}', None, t, b, None, None),
        "b": ("b", "t", "", "c1", "ch", "1", None, None, vt, vb, None, None),
        "lb": ("b", "t", "", "c1", "log", "1", "L1", 2, "log", None, None, None),
        "l": ("l", "t", "", None, "L1", '[["L1", 0]]', None, 2, None, None, None, None),
        "p": ("p", "t", "", None, "L1", None, None, 0, *serde.dumps_typed(["a", "b"]), None, None),
        "w": ("w", "t", "", "c1", "task", "ch", "", 0, vt, vb, None, None),
    }
    rows.update(override)
    return [r for r in rows.values() if r is not None]


def test_decoders_build_a_whole_tuple() -> None:
    (tup,) = codec.decode_tuples(_rows(), serde)
    assert tup.checkpoint["channel_values"] == {"ch": "hello", "log": ["a", "b"]}
    assert tup.metadata == {"step": 1} and tup.pending_writes == [("task", "ch", "hello")]
    assert tup.parent_config is None and tup.config["configurable"]["checkpoint_id"] == "c1"


@pytest.mark.parametrize(
    "override, channel, message",
    [
        ({"b": ("b", "t", "", "c1", "ch", "1", None, None, "msgpack", b"\xc1", None, None)}, "ch", "cannot decode"),
        ({"b": None}, "ch", "missing"),
        ({"l": None}, "log", "lineage 'L1' is missing"),
        ({"p": None}, "log", "holds 0 items, 2 needed"),
        ({"p": ("p", "t", "", None, "L1", None, None, 1, *serde.dumps_typed(["b"]), None, None)}, "log", "not contiguous"),
        ({"p": ("p", "t", "", None, "L1", None, None, 0, *serde.dumps_typed(["a"]), None, None)}, "log", "holds 1 items"),
        ({"l": ("l", "t", "", None, "L1", "not json", None, 2, None, None, None, None)}, "log", "rebuild"),
        ({"lb": ("b", "t", "", "c1", "log", "1", None, None, "log", None, None, None)}, "log", "malformed log reference"),
        ({"w": ("w", "t", "", "c1", "task", "ch", "", 0, "msgpack", b"\xc1", None, None)}, "ch", "pending write"),
    ],
)
def test_decoders_raise_corrupt_naming_where(override: dict[str, Any], channel: str, message: str) -> None:
    with pytest.raises(CorruptCheckpointError, match=message) as err:
        codec.decode_tuples(_rows(**override), serde)
    assert (err.value.thread_id, err.value.checkpoint_id, err.value.channel) == ("t", "c1", channel)


def test_corrupt_checkpoint_row_and_metadata() -> None:
    bad_body = ("c", "t", "", "c1", None, "{}", "{}", None, "msgpack", b"\xc1", None, None)
    with pytest.raises(CorruptCheckpointError, match="checkpoint row") as err:
        codec.decode_tuples([bad_body], serde)
    assert err.value.checkpoint_id == "c1" and err.value.channel is None
    good = _rows()[0]
    with pytest.raises(CorruptCheckpointError, match="metadata"):
        codec.decode_tuples([good[:6] + ("[1,",) + good[7:]], serde)


def test_metadata_is_exact_or_carries_an_exact_copy() -> None:
    text, type_, data, run_id = codec.encode_metadata(serde, {"a": 1, "run_id": 7, "s": "x"})
    assert text == '{"a":1,"run_id":7,"s":"x"}' and type_ is None and data is None and run_id == "7"
    text, type_, data, _ = codec.encode_metadata(serde, {"t": (1, 2), "z": "a\x00b", "f": float("nan")})
    assert '"t":[1,2]' in text and "\\u0000" not in text and type_ is not None
    assert serde.loads_typed((type_, data))["t"] == (1, 2)
