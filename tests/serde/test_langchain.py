"""LangChain's Serializable protocol (duck-typed) and its JSON constructor form."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.serde._helpers import assert_same
from tests.serde.test_roundtrip import Address, Point
from waypoint.checkpoint.serde import JsonPlusSerializer
from waypoint.errors import DisallowedTypeError, SerializationError


class FakeSerializable:
    """Implements LangChain's Serializable protocol without langchain-core."""

    def __init__(self, content: str, extra: Any = None) -> None:
        self.content = content
        self.extra = extra

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def lc_id(cls) -> list[str]:
        return [__name__, cls.__name__]

    def to_json(self) -> dict[str, Any]:
        return {
            "lc": 1,
            "type": "constructor",
            "id": self.lc_id(),
            "kwargs": {"content": self.content, "extra": self.extra},
        }

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is FakeSerializable
            and other.content == self.content
            and other.extra == self.extra
        )


class NotSerializable(FakeSerializable):
    @classmethod
    def is_lc_serializable(cls) -> bool:
        return False


def test_duck_typed_serializable_roundtrip() -> None:
    ser = JsonPlusSerializer(allowed_types=[FakeSerializable])
    value = FakeSerializable("hi", extra=(1, Point(2)))
    out = ser.loads_typed(ser.dumps_typed({"m": [value]}))
    assert_same({"m": [value]}, out)
    assert type(out["m"][0].extra) is tuple


def test_duck_typed_serializable_is_a_plain_class() -> None:
    # Only langchain_core's own Serializable classes may be called with stored arguments, so a
    # class that merely quacks like one is a plain class: it needs listing, and it is stored
    # and rebuilt by its state (its __init__ does not run on load).
    with pytest.raises(SerializationError, match="FakeSerializable: not a supported type"):
        JsonPlusSerializer().dumps_typed(FakeSerializable("x"))
    ser = JsonPlusSerializer(allowed_modules=["tests"])
    data = ser.dumps_typed(FakeSerializable("x"))
    with pytest.raises(SerializationError, match="not an allowed type"):
        JsonPlusSerializer().loads_typed(data)
    assert ser.loads_typed(data) == FakeSerializable("x")


def test_non_serializable_opt_out_is_refused() -> None:
    with pytest.raises(SerializationError, match="NotSerializable"):
        JsonPlusSerializer().dumps_typed(NotSerializable("x"))


def test_json_constructor_form_allowed_kinds() -> None:
    doc = {
        "lc": 1,
        "type": "constructor",
        "id": [__name__.rsplit(".", 1)[0] + ".test_roundtrip", "Address"],
        "kwargs": {"city": "Oslo"},
    }
    out = JsonPlusSerializer().loads_typed(("json", json.dumps({"a": [doc]}).encode()))
    assert out == {"a": [Address(city="Oslo")]}
    with pytest.raises(SerializationError, match="strict=True"):
        JsonPlusSerializer(strict=True).loads_typed(("json", json.dumps(doc).encode()))
    fake = FakeSerializable("j").to_json()
    with pytest.raises(SerializationError, match="not an allowed type"):
        JsonPlusSerializer().loads_typed(("json", json.dumps(fake).encode()))
    allowed = JsonPlusSerializer(allowed_types=[FakeSerializable])
    with pytest.raises(SerializationError, match="from a constructor form"):  # would call it
        allowed.loads_typed(("json", json.dumps(fake).encode()))


def test_json_lc2_stdlib_ids() -> None:
    import datetime as dt
    import uuid

    docs = [
        ({"lc": 2, "type": "constructor", "id": ["uuid", "UUID"], "args": ["0" * 32]},
         uuid.UUID(int=0)),
        ({"lc": 2, "type": "constructor", "id": ["datetime", "datetime"],
          "method": "fromisoformat", "args": ["2024-01-02T03:04:05+00:00"]},
         dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ({"lc": 2, "type": "constructor", "id": ["builtins", "set"], "args": [[1, 2]]}, {1, 2}),
    ]  # fmt: skip
    ser = JsonPlusSerializer()
    for doc, expected in docs:
        assert_same(expected, ser.loads_typed(("json", json.dumps(doc).encode())))


def test_real_langchain_messages() -> None:
    messages = pytest.importorskip("langchain_core.messages")
    ser = JsonPlusSerializer()
    value = [
        messages.HumanMessage(content="hello", id="1"),
        messages.AIMessage(
            content="hi",
            id="2",
            tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "c1", "type": "tool_call"}],
        ),
        messages.ToolMessage(content="result", tool_call_id="c1"),
        messages.SystemMessage(content=[{"type": "text", "text": "be brief"}]),
    ]
    out = ser.loads_typed(ser.dumps_typed(value))
    assert out == value
    assert [type(m) for m in out] == [type(m) for m in value]
    assert out[1].tool_calls == value[1].tool_calls
    assert out[0].model_fields_set == value[0].model_fields_set
    # LangChain's own JSON form (legacy "langchain.schema" ids) loads too.
    doc = json.dumps([m.to_json() for m in value], default=str).encode()
    revived = ser.loads_typed(("json", doc))
    assert [type(m) for m in revived] == [type(m) for m in value]
    assert [m.content for m in revived] == [m.content for m in value]


def test_ext46_constructs_only_langchain_serializable_classes() -> None:
    import ormsgpack

    from waypoint.checkpoint.serde import _stdlib as codes

    messages = pytest.importorskip("langchain_core.messages")
    cls = messages.HumanMessage
    payload = [cls.__module__, cls.__qualname__, {"content": "hi", "id": "7"}]
    data = ormsgpack.packb(ormsgpack.Ext(codes.LC_CONSTRUCTOR, ormsgpack.packb(payload)))
    out = JsonPlusSerializer().loads_typed(("msgpack", data))
    assert type(out) is cls and out.content == "hi" and out.id == "7"
    # LangChain's message classes are on the default allow-list, even with strict=True (as in
    # LangGraph's strict msgpack mode); other Serializable classes still need listing
    assert JsonPlusSerializer(strict=True).loads_typed(("msgpack", data)) == out
    prompts = pytest.importorskip("langchain_core.prompt_values")
    other = [prompts.PromptValue.__module__, "ImagePromptValue", {"image_url": {"url": "x"}}]
    data = ormsgpack.packb(ormsgpack.Ext(codes.LC_CONSTRUCTOR, ormsgpack.packb(other)))
    with pytest.raises(DisallowedTypeError, match="strict=True"):
        JsonPlusSerializer(strict=True).loads_typed(("msgpack", data))
    payload = [__name__, "FakeSerializable", {"content": "x"}]
    data = ormsgpack.packb(ormsgpack.Ext(codes.LC_CONSTRUCTOR, ormsgpack.packb(payload)))
    with pytest.raises(SerializationError, match="not a langchain_core Serializable"):
        JsonPlusSerializer(allowed_types=[FakeSerializable]).loads_typed(("msgpack", data))
