"""Exact round trips of every supported type through JsonPlusSerializer."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import ipaddress
import pathlib
import re
import uuid
import zoneinfo
from typing import Any, NamedTuple, TypedDict

import numpy as np
import pydantic
import pytest
from pydantic import v1 as pydantic_v1

from tests.serde._helpers import roundtrip, same
from waypoint.checkpoint.serde import JsonPlusSerializer, SerializerProtocol
from waypoint.errors import SerializationError

# --- module-level types (loading finds classes through sys.modules) ------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = ("blue", 2)


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mode(enum.StrEnum):
    FAST = "fast"
    SAFE = "safe"


class Perm(enum.Flag):
    R = 1
    W = 2
    X = 4


@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.0


@dataclasses.dataclass(frozen=True)
class FrozenBox:
    label: str
    items: tuple[Any, ...]


@dataclasses.dataclass(slots=True)
class Slotted:
    a: int
    b: list[Any]


@dataclasses.dataclass(slots=True, frozen=True)
class SlottedFrozen:
    a: int
    nested: Point


POST_INIT_CALLS: list[str] = []


@dataclasses.dataclass
class WithDerived:
    text: str
    length: int = dataclasses.field(init=False)
    cache: dict[str, Any] = dataclasses.field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        POST_INIT_CALLS.append(self.text)
        self.length = len(self.text)


@dataclasses.dataclass
class Tree:
    value: int
    children: list[Tree] = dataclasses.field(default_factory=list)


class Pair(NamedTuple):
    left: Any
    right: Any


class Message(TypedDict):
    role: str
    content: str


class Address(pydantic.BaseModel):
    city: str
    zip: str = "00000"


class User(pydantic.BaseModel):
    name: str
    tags: tuple[str, ...] = ()
    address: Address | None = None
    scores: dict[str, float] = {}
    when: dt.datetime | None = None


class Loose(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")
    a: int = 0


class WithPrivate(pydantic.BaseModel):
    a: int
    _secret: str = pydantic.PrivateAttr(default="hidden")


class WithPostInit(pydantic.BaseModel):
    a: int

    def model_post_init(self, context: Any) -> None:
        pass


class OldUser(pydantic_v1.BaseModel):
    name: str
    age: int = 0
    friends: list[OldUser] = []


OldUser.update_forward_refs()


class Plain:
    """A plain class: loads only when allowed."""

    def __init__(self, a: int) -> None:
        self.a = a
        self.b = [a]


class WithState:
    def __init__(self, v: int) -> None:
        self.v = v

    def __getstate__(self) -> dict[str, Any]:
        return {"value": self.v}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.v = state["value"]

    def __eq__(self, other: object) -> bool:
        return type(other) is WithState and other.v == self.v


class AppError(Exception):
    pass


@dataclasses.dataclass
class DataError(Exception):
    code: int
    detail: str = ""


@pytest.fixture
def ser() -> JsonPlusSerializer:
    return JsonPlusSerializer()


PARIS = zoneinfo.ZoneInfo("Europe/Paris")

VALUES: list[Any] = [
    "",
    "héllo wörld ✓",
    "lone \ud800 surrogate",
    0,
    -1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    2**1000,
    -(3**500),
    1.5,
    -0.0,
    float("inf"),
    float("-inf"),
    float("nan"),
    True,
    False,
    None,
    b"",
    b"\x00\xff",
    bytearray(b"abc"),
    complex(1.5, -2),
    [],
    [1, "a", None, [2.5, b"x"]],
    (),
    (1,),
    (1, (2, (3, ())), [4, (5,)]),
    {"a": 1, "b": {"c": [1, 2]}},
    {1: "int key", 2.5: "float", None: "none", False: "bool", b"k": "bytes"},
    {(1, 2): "tuple key", frozenset({1}): "frozenset key", Level.LOW: "enum key"},
    {Mode.FAST: 1, "fast": 2},
    {"lone \udfff": 1},
    {dt.date(2024, 1, 1): [1], uuid.UUID(int=7): {"x": (1,)}},
    {1, 2, 3},
    {"a", (1, 2), frozenset({3})},
    frozenset({1, "b"}),
    set(),
    collections.deque([1, 2, 3]),
    collections.deque([(1,), {2}], maxlen=5),
    collections.OrderedDict([("b", 1), ("a", (2,))]),
    collections.Counter("abracadabra"),
    collections.defaultdict(list, {"k": [1, (2,)]}),
    collections.defaultdict(None, {1: 2}),
    dt.datetime(2024, 5, 17, 12, 30, 15, 123456),
    dt.datetime(2024, 5, 17, 12, 30, tzinfo=dt.UTC),
    dt.datetime(2024, 5, 17, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    dt.datetime(2024, 5, 17, tzinfo=dt.timezone(dt.timedelta(hours=-3), "BRT")),
    dt.datetime(2024, 5, 17, tzinfo=dt.timezone(dt.timedelta(seconds=-3723, microseconds=5))),
    dt.datetime(2024, 7, 1, 9, tzinfo=PARIS),
    dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=PARIS),
    dt.datetime(2024, 10, 27, 2, 30, fold=1),
    dt.datetime.min,
    dt.datetime.max,
    dt.date(1, 1, 1),
    dt.date(2024, 2, 29),
    dt.time(0, 0),
    dt.time(23, 59, 59, 999999, tzinfo=dt.UTC),
    dt.time(8, 15, tzinfo=PARIS),
    dt.timedelta(0),
    dt.timedelta(days=-3, seconds=5, microseconds=7),
    dt.timedelta.max,
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    uuid.uuid4(),
    decimal.Decimal("1.10"),
    decimal.Decimal("-0"),
    decimal.Decimal("NaN"),
    decimal.Decimal("-sNaN"),
    decimal.Decimal("Infinity"),
    decimal.Decimal("1E+999999"),
    Color.RED,
    Color.BLUE,
    Level.HIGH,
    Mode.SAFE,
    Perm.R,
    Perm.R | Perm.X,
    Perm(0),
    pathlib.Path("/tmp/some dir/file.txt"),
    pathlib.Path("relative/x"),
    pathlib.PurePosixPath("/a/b"),
    pathlib.PureWindowsPath(r"C:\Users\x"),
    ipaddress.IPv4Address("10.1.2.3"),
    ipaddress.IPv6Address("fe80::1"),
    ipaddress.IPv4Network("10.0.0.0/8"),
    ipaddress.IPv6Network("2001:db8::/32"),
    ipaddress.IPv4Interface("192.168.1.5/24"),
    ipaddress.IPv6Interface("2001:db8::5/64"),
    re.compile(r"^a+\d{2}$", re.IGNORECASE | re.MULTILINE),
    re.compile(rb"\x00+"),
    Point(1, 2.5),
    FrozenBox("box", (1, (2, 3), Point(0))),
    Slotted(1, [Point(2)]),
    SlottedFrozen(3, Point(4, 5.0)),
    Tree(1, [Tree(2, [Tree(3)]), Tree(4)]),
    Pair(1, (2, 3)),
    Pair(Pair("a", b"b"), None),
    Message(role="user", content="hi"),
    User(name="ann"),
    User(name="bob", tags=("a", "b"), address=Address(city="Oslo"), scores={"x": 1.0}),
    User(name="cy", when=dt.datetime(2024, 1, 1, tzinfo=PARIS)),
    Loose(a=1, extra_field=(1, 2)),
    Loose(),
    WithPostInit(a=1),
    OldUser(name="old"),
    OldUser(name="older", age=3, friends=[OldUser(name="f")]),
    ValueError("bad", 3),
    KeyError("missing"),
    AppError("custom"),
    DataError(404, "not found"),
    FileNotFoundError(2, "No such file"),
    [{"role": "user", "content": "x" * 200, "id": str(uuid.uuid4())} for _ in range(5)],
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_exact_roundtrip(ser: JsonPlusSerializer, value: Any) -> None:
    roundtrip(ser, value)


NESTABLE = [v for v in VALUES if type(v) is not bytearray]


@pytest.mark.parametrize("value", NESTABLE, ids=lambda v: type(v).__name__)
def test_roundtrip_nested_in_containers(ser: JsonPlusSerializer, value: Any) -> None:
    roundtrip(ser, {"v": [value, (value,)], "t": (Pair(value, 1),)})


def test_nested_bytearray_becomes_bytes(ser: JsonPlusSerializer) -> None:
    # Documented limit: ormsgpack writes bytearray natively as msgpack bin, so only a
    # top-level bytearray (tag "bytearray") keeps its type.
    assert ser.loads_typed(ser.dumps_typed([bytearray(b"ab")])) == [b"ab"]


def test_tags(ser: JsonPlusSerializer) -> None:
    assert ser.dumps_typed(None) == ("null", b"")
    assert ser.dumps_typed(b"raw") == ("bytes", b"raw")
    assert ser.dumps_typed(bytearray(b"raw")) == ("bytearray", b"raw")
    assert ser.dumps_typed({"a": 1})[0] == "msgpack"
    assert isinstance(ser, SerializerProtocol)


def test_plain_chat_payload_is_plain_msgpack(ser: JsonPlusSerializer) -> None:
    import ormsgpack

    payload = [{"role": "user", "content": "hi", "id": "1"}]
    _, data = ser.dumps_typed(payload)
    assert data == ormsgpack.packb(payload)


def test_datetime_keeps_zoneinfo_key(ser: JsonPlusSerializer) -> None:
    value = dt.datetime(2024, 3, 31, 1, 59, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    out = ser.loads_typed(ser.dumps_typed(value))
    assert isinstance(out.tzinfo, zoneinfo.ZoneInfo)
    assert out.tzinfo.key == "America/New_York"
    assert out.utcoffset() == value.utcoffset()


def test_dataclass_rebuilt_without_init(ser: JsonPlusSerializer) -> None:
    value = WithDerived("hello")
    value.cache["k"] = (1, 2)
    POST_INIT_CALLS.clear()
    out = roundtrip(ser, value)
    assert POST_INIT_CALLS == []
    assert out.length == 5 and out.cache == {"k": (1, 2)}


def test_frozen_dataclass_stays_frozen(ser: JsonPlusSerializer) -> None:
    out = roundtrip(ser, SlottedFrozen(1, Point(2)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.a = 2  # type: ignore[misc]


def test_pydantic_fields_set_kept(ser: JsonPlusSerializer) -> None:
    value = User(name="z", address=Address(city="Rome"))
    out = roundtrip(ser, value)
    assert out.model_fields_set == {"name", "address"}
    assert out.address is not None and out.address.model_fields_set == {"city"}
    assert out.model_dump(exclude_unset=True) == value.model_dump(exclude_unset=True)


def test_pydantic_private_attrs_get_defaults(ser: JsonPlusSerializer) -> None:
    value = WithPrivate(a=1)
    value._secret = "changed"
    out = ser.loads_typed(ser.dumps_typed(value))
    assert type(out) is WithPrivate and out.a == 1 and out._secret == "hidden"


def test_pydantic_v1_fields_set_kept(ser: JsonPlusSerializer) -> None:
    out = roundtrip(ser, OldUser(name="n", friends=[OldUser(name="m", age=2)]))
    assert out.__fields_set__ == {"name", "friends"}
    assert out.friends[0].__fields_set__ == {"name", "age"}


def test_exception_attributes_kept(ser: JsonPlusSerializer) -> None:
    err = AppError("boom")
    err.add_note("a note")
    err.code = 7  # type: ignore[attr-defined]
    out = roundtrip(ser, err)
    assert out.code == 7 and out.__notes__ == ["a note"]  # type: ignore[attr-defined]
    oserr = ser.loads_typed(ser.dumps_typed(FileNotFoundError(2, "gone")))
    assert oserr.errno == 2 and oserr.strerror == "gone"


# --- unsupported values ---------------------------------------------------------------------


def test_unsupported_values_name_their_type(ser: JsonPlusSerializer) -> None:
    import socket

    with pytest.raises(SerializationError, match="function"):
        ser.dumps_typed(lambda: 1)
    with socket.socket() as sock, pytest.raises(SerializationError, match=r"socket\.socket"):
        ser.dumps_typed({"conn": [sock]})
    with pytest.raises(SerializationError, match=r"\bPlain\b"):
        ser.dumps_typed((1, Plain(1)))
    with pytest.raises(SerializationError, match="default_factory"):
        ser.dumps_typed(collections.defaultdict(lambda: 0))


def test_local_class_refused_with_hint(ser: JsonPlusSerializer) -> None:
    @dataclasses.dataclass
    class Local:
        a: int

    with pytest.raises(SerializationError, match="module level"):
        ser.dumps_typed(Local(1))


def test_cycles_and_deep_nesting_are_errors(ser: JsonPlusSerializer) -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(SerializationError, match="nested too deeply"):
        ser.dumps_typed(cyclic)
    deep: Any = ()
    for _ in range(5000):
        deep = (deep,)
    with pytest.raises(SerializationError, match="nested too deeply"):
        ser.dumps_typed(deep)
    moderately_deep: Any = ()
    for _ in range(100):
        moderately_deep = (moderately_deep, 1)
    roundtrip(ser, moderately_deep)


def test_same_helper_detects_type_changes() -> None:
    assert not same((1, 2), [1, 2])
    assert not same({1: "a"}, {"1": "a"})
    assert not same(np.float32(1), np.float64(1))
    paris = dt.datetime(2024, 1, 1, tzinfo=PARIS)
    assert not same(paris, paris.astimezone(dt.timezone(dt.timedelta(hours=1))))
    assert same(float("nan"), float("nan"))
    assert not same(0.0, -0.0)


class HandleError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.handle = lambda: None  # not serializable


def test_exceptions_degrade_instead_of_failing(ser: JsonPlusSerializer) -> None:
    out = ser.loads_typed(ser.dumps_typed(HandleError("request failed")))
    assert type(out) is HandleError and out.args == ("request failed",)
    out = ser.loads_typed(ser.dumps_typed(ValueError("bad", lambda: 1)))
    assert type(out) is ValueError and out.args[0].startswith("('bad', <function")

    class LocalError(Exception):
        pass

    out = ser.loads_typed(ser.dumps_typed({"error": LocalError("boom")}))
    assert type(out["error"]) is Exception and out["error"].args == ("LocalError: boom",)
