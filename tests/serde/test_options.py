"""Serializer options: allowed types and modules, strict mode, pickle, compression, untyped API."""

from __future__ import annotations

import numpy as np
import pytest

from tests.serde._helpers import assert_same
from tests.serde.test_roundtrip import Color, Plain, Point, WithState
from waypoint.checkpoint.serde import JsonPlusSerializer
from waypoint.errors import SerializationError


@pytest.fixture
def ser() -> JsonPlusSerializer:
    return JsonPlusSerializer()


def test_plain_class_needs_allowance() -> None:
    ser = JsonPlusSerializer(allowed_types=[Plain, WithState])
    out = ser.loads_typed(ser.dumps_typed(Plain(3)))
    assert type(out) is Plain and out.a == 3 and out.b == [3]
    assert ser.loads_typed(ser.dumps_typed(WithState(5))) == WithState(5)
    data = ser.dumps_typed(Plain(3))
    with pytest.raises(SerializationError, match="not an allowed type"):
        JsonPlusSerializer().loads_typed(data)
    by_module = JsonPlusSerializer(allowed_modules=["tests.serde"])
    assert type(by_module.loads_typed(data)) is Plain


def test_strict_mode_refuses_implicit_kinds() -> None:
    data = JsonPlusSerializer().dumps_typed([Point(1), Color.RED])
    strict = JsonPlusSerializer(strict=True)
    with pytest.raises(SerializationError, match="strict=True"):
        strict.loads_typed(data)
    allowed = JsonPlusSerializer(strict=True, allowed_types=[Point, Color])
    assert_same([Point(1), Color.RED], allowed.loads_typed(data))
    by_module = JsonPlusSerializer(strict=True, allowed_modules=["tests"])
    assert_same([Point(1), Color.RED], by_module.loads_typed(data))
    assert strict.loads_typed(strict.dumps_typed((1, {2}))) == (1, {2})


def test_pickle_fallback() -> None:
    ser = JsonPlusSerializer(pickle_fallback=True)
    tag, data = ser.dumps_typed(Plain(2))
    assert tag == "pickle"
    out = ser.loads_typed((tag, data))
    assert type(out) is Plain and out.b == [2]
    assert ser.dumps_typed({"a": 1})[0] == "msgpack"
    with pytest.raises(SerializationError, match="pickling failed"):
        ser.dumps_typed(lambda: 1)
    with pytest.raises(SerializationError, match="pickle_fallback is off"):
        JsonPlusSerializer().loads_typed((tag, data))
    blob = ser.dumps(Plain(4))
    assert ser.loads(blob).a == 4
    with pytest.raises(SerializationError, match="pickle_fallback is off"):
        JsonPlusSerializer().loads(blob)


def test_compression() -> None:
    ser = JsonPlusSerializer(compress_threshold=1024)
    small = {"a": "x"}
    assert ser.dumps_typed(small)[0] == "msgpack"
    big = {"text": "abc " * 5000, "t": (1, 2)}
    tag, data = ser.dumps_typed(big)
    assert tag == "msgpack+z" and len(data) < 2000
    assert_same(big, ser.loads_typed((tag, data)))
    assert_same(big, JsonPlusSerializer().loads_typed((tag, data)))
    incompressible = np.random.default_rng(0).bytes(4096)
    assert ser.dumps_typed([incompressible])[0] == "msgpack"


def test_untyped_dumps_loads(ser: JsonPlusSerializer) -> None:
    for value in [None, b"raw", bytearray(b"x"), 5, "s", (1, 2), {1: {2}}, Point(1), []]:
        assert_same(value, ser.loads(ser.dumps(value)))
    assert ser.loads(b'{"a": [1, 2], "b": null}') == {"a": [1, 2], "b": None}
    assert ser.loads(b"[1]") == [1]
    assert ser.loads(b"\x07") == 7


def test_json_tag_plain_documents(ser: JsonPlusSerializer) -> None:
    assert ser.loads_typed(("json", b'{"x": [1, "a", null, true]}')) == {"x": [1, "a", None, True]}
    assert ser.loads_typed(("json", b'"text"')) == "text"
