"""Subclasses of builtins (str, int, float, bytes, list, dict, tuple, set, frozenset).

A value like langchain-core's ``AIMessage(...).text`` (a ``str`` subclass) must never crash a
run: it round-trips as its own class when that class is allowed to load, and as the builtin
value otherwise. Known kinds stay exact (IntEnum, StrEnum, NamedTuple, OrderedDict...), and
rebuilding an allowed subclass runs none of its code.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Iterator
from typing import Any, NamedTuple

import ormsgpack
import pytest
from ormsgpack import Ext

from tests.serde._helpers import assert_same
from waypoint.checkpoint.serde import JsonPlusSerializer
from waypoint.checkpoint.serde import _stdlib as codes
from waypoint.errors import SerializationError

RAN: list[str] = []


def _hooks(base: type) -> dict[str, Any]:
    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:  # noqa: N807
        RAN.append(f"{cls.__name__}.__new__")
        return base.__new__(cls, *args)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        RAN.append(f"{type(self).__name__}.__init__")
        if base in (list, dict, set):
            base.__init__(self, *args)

    return {"__new__": __new__, "__init__": __init__}


class Tag(str):
    __new__ = _hooks(str)["__new__"]  # type: ignore[assignment]
    __init__ = _hooks(str)["__init__"]  # type: ignore[assignment]


class SlottedTag(str):
    __slots__ = ()


class Count(int):
    __new__ = _hooks(int)["__new__"]  # type: ignore[assignment]


class Ratio(float):
    pass


class Blob(bytes):
    pass


class Items(list):  # type: ignore[type-arg]
    __init__ = _hooks(list)["__init__"]  # type: ignore[assignment]


class Attrs(dict):  # type: ignore[type-arg]
    __init__ = _hooks(dict)["__init__"]  # type: ignore[assignment]


class Row(tuple):  # type: ignore[type-arg]
    __new__ = _hooks(tuple)["__new__"]  # type: ignore[assignment]


class Bag(set):  # type: ignore[type-arg]
    pass


class FBag(frozenset):  # type: ignore[type-arg]
    pass


class Level(enum.IntEnum):
    LOW = 1


class Mode(enum.StrEnum):
    FAST = "fast"


class Coord(NamedTuple):
    x: int
    y: int


CLASSES = [Tag, SlottedTag, Count, Ratio, Blob, Items, Attrs, Row, Bag, FBag]


def samples() -> list[Any]:
    RAN.clear()
    tag = Tag("hi")
    tag.lang = "en"  # type: ignore[attr-defined]
    items = Items([1, (2, 3)])
    items.note = "n"  # type: ignore[attr-defined]
    return [tag, SlottedTag("s"), Count(2**70), Ratio(0.5), Blob(b"\x00b"), items,
            Attrs({"k": 1, 2: Tag("v")}), Row((1, "a")), Bag({1, 2}), FBag({3})]  # fmt: skip


def builtin_of(value: Any) -> Any:
    for base in (str, int, float, bytes, list, dict, tuple, set, frozenset):
        if isinstance(value, base):
            if base is list:
                return [builtin_of(v) for v in value]
            if base is dict:
                return {builtin_of(k): builtin_of(v) for k, v in value.items()}
            return base(value) if base is not str else str.__str__(value)
    return value


@pytest.fixture(autouse=True)
def _no_class_code_on_load() -> Iterator[None]:
    RAN.clear()
    yield


@pytest.mark.parametrize("index", range(len(CLASSES)))
def test_unlisted_subclass_is_stored_as_its_builtin(index: int) -> None:
    value = samples()[index]
    ser = JsonPlusSerializer()
    for wrapped in (value, [value], {"v": value}):
        out = ser.loads_typed(ser.dumps_typed(wrapped))
        assert_same(builtin_of(wrapped), out)


def test_subclass_keys_and_members_degrade_too() -> None:
    ser = JsonPlusSerializer()
    value = {Tag("k"): Count(1), (Tag("t"), 2): {Tag("x")}}
    out = ser.loads_typed(ser.dumps_typed(value))
    assert_same({"k": 1, ("t", 2): {"x"}}, out)


@pytest.mark.parametrize("index", range(len(CLASSES)))
def test_allowed_subclass_roundtrips_as_itself_without_running_its_code(index: int) -> None:
    value = samples()[index]
    ser = JsonPlusSerializer(allowed_types=CLASSES)
    data = ser.dumps_typed([value])
    RAN.clear()
    out = ser.loads_typed(data)[0]
    assert type(out) is type(value) and out == value
    assert getattr(out, "__dict__", None) == getattr(value, "__dict__", None)
    assert RAN == []
    by_module = JsonPlusSerializer(allowed_modules=[__name__]).loads_typed(data)[0]
    assert type(by_module) is type(value)
    with pytest.raises(SerializationError, match="not an allowed type"):
        JsonPlusSerializer().loads_typed(data)


def test_known_kinds_stay_exact() -> None:
    ser = JsonPlusSerializer(allowed_modules=[__name__])
    values = [Level.LOW, Mode.FAST, Coord(1, 2), collections.OrderedDict(a=1),
              collections.Counter("aab"), collections.defaultdict(list, a=[1]),
              collections.deque([1], 3), {Mode.FAST: Level.LOW}]  # fmt: skip
    for s in (ser, JsonPlusSerializer()):
        assert_same(values, s.loads_typed(s.dumps_typed(values)))


def test_langchain_text_accessor() -> None:
    messages = pytest.importorskip("langchain_core.messages")
    text = messages.AIMessage("hi").text
    ser = JsonPlusSerializer()
    tag, data = ser.dumps_typed(text)
    assert ser.loads_typed((tag, data)) == "hi" and type(ser.loads_typed((tag, data))) is str
    out = ser.loads_typed(ser.dumps_typed({"text": text, "msg": messages.AIMessage("hi")}))
    assert type(out["text"]) is str and out["msg"] == messages.AIMessage("hi")
    allowed = JsonPlusSerializer(allowed_types=[type(text)])
    assert type(allowed.loads_typed(allowed.dumps_typed(text))) is type(text)


def test_local_subclass_degrades_even_when_listed() -> None:
    class Local(str):
        pass

    ser = JsonPlusSerializer(allowed_types=[Local])
    assert_same("x", ser.loads_typed(ser.dumps_typed(Local("x"))))


def _sub(module: str, qualname: str, base: str, value: Any, state: Any = None) -> tuple[str, bytes]:
    payload = ormsgpack.packb([module, qualname, base, value, state])
    return "msgpack", ormsgpack.packb(Ext(codes.BUILTIN_SUBCLASS, payload))


def test_malformed_subclass_payloads() -> None:
    ser = JsonPlusSerializer(allowed_modules=[__name__])
    bad = [
        _sub(__name__, "Tag", "int", 1),  # the class is not a subclass of that builtin
        _sub(__name__, "Tag", "object", "x"),  # not a builtin we rebuild
        _sub(__name__, "Tag", "str", 5),  # the value is not of the builtin
        _sub(__name__, "Items", "list", {"a": 1}),
        _sub(__name__, "Level", "int", 1),  # an Enum is rebuilt by value lookup only
        _sub(__name__, "Coord", "tuple", [1, 2]),  # a NamedTuple by its own ext
        _sub(__name__, "SlottedTag", "str", "x", {"a": 1}),  # no attribute slot
        _sub("subprocess", "Popen", "str", "ls"),
    ]
    for data in bad:
        with pytest.raises(SerializationError):
            ser.loads_typed(data)
    assert RAN == []
