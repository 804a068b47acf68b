"""Nested pydantic v2 models folded into their parent's payload: exact, compact, policy-checked."""

from __future__ import annotations

import collections
from typing import Annotated, Any

import ormsgpack
import pydantic
import pytest
from ormsgpack import Ext

from tests.serde._helpers import roundtrip
from waypoint.checkpoint.serde import JsonPlusSerializer
from waypoint.checkpoint.serde import _stdlib as codes
from waypoint.errors import SerializationError


class Address(pydantic.BaseModel):
    street: str
    city: str = "Rome"


class Address2(Address):
    floor: int = 0


class Person(pydantic.BaseModel):
    name: str
    address: Address | None = None
    homes: list[Address] = []
    by_tag: dict[str, Address] = {}
    tagged: Annotated[Address | None, "meta"] = None
    anything: Any = None


class Group(pydantic.BaseModel):
    people: list[Person]
    lead: Person


class Other(pydantic.BaseModel):
    x: int


class WithUnion(pydantic.BaseModel):
    item: Address | Other


class Node(pydantic.BaseModel):
    value: int
    children: list[Node] = []


class Open(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")
    a: int = 0


class Holder(pydantic.BaseModel):
    open: Open
    frozen: Frozen | None = None


class Frozen(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True)
    k: str


Holder.model_rebuild()


def addr(i: int) -> Address:
    return Address(street=f"s{i}", city=f"c{i}")


def person() -> Person:
    return Person(
        name="p",
        address=addr(0),
        homes=[addr(1), addr(2)],
        by_tag={"a": addr(3)},
        tagged=addr(4),
        anything=addr(5),
    )


def code_of(data: tuple[str, bytes]) -> int:
    ext = ormsgpack.unpackb(data[1], ext_hook=lambda code, payload: code)
    assert isinstance(ext, int)
    return ext


@pytest.fixture
def ser() -> JsonPlusSerializer:
    return JsonPlusSerializer()


def test_nested_models_fold_and_round_trip(ser: JsonPlusSerializer) -> None:
    value = person()
    data = ser.dumps_typed(value)
    assert code_of(data) == codes.PYDANTIC_V2_TREE
    # Only the top model and the model in the untyped field carry a class reference.
    assert data[1].count(b"Address") == 1 and data[1].count(b"Person") == 1
    out = roundtrip(ser, value)
    assert type(out.homes[0]) is Address and out.homes[0].model_fields_set == {"street", "city"}


def test_values_the_annotation_would_not_rebuild_keep_their_type(ser: JsonPlusSerializer) -> None:
    value = person()
    value.address = Address2(street="x", floor=3)  # a subclass
    value.homes = [addr(1), Address(street="only")]  # partly set
    value.by_tag = {"a": Address.model_construct(street="x", city=None)}  # wrong content is fine
    out = roundtrip(ser, value)
    assert type(out.address) is Address2 and out.homes[1].model_fields_set == {"street"}


@pytest.mark.parametrize(
    "raw",
    [
        {"street": "s", "city": "c"},
        collections.OrderedDict(street="s", city="c"),
        ["s", "c"],
        ("s", "c"),
        None,
    ],
)
def test_plain_values_at_model_positions_stay_plain(ser: JsonPlusSerializer, raw: Any) -> None:
    holders = {
        "address": raw,
        "tagged": raw,
        "homes": [addr(1), raw],
        "by_tag": {"a": addr(2), "k": raw},
    }
    for field, holder in holders.items():
        kwargs = {"name": "p", "homes": [addr(1)], "by_tag": {"a": addr(2)}, field: holder}
        roundtrip(ser, Person.model_construct(**kwargs))


def test_a_plain_dict_deep_inside_keeps_only_its_parent_unfolded(ser: JsonPlusSerializer) -> None:
    odd = Person.model_construct(name="odd", address={"street": "s"})
    value = Group(people=[person(), person()], lead=person())
    value.people.append(odd)
    data = ser.dumps_typed(value)
    assert code_of(data) == codes.PYDANTIC_V2_TREE
    out = roundtrip(ser, value)
    assert out.people[2].address == {"street": "s"} and type(out.people[0].address) is Address


def test_union_fields_keep_class_references(ser: JsonPlusSerializer) -> None:
    data = ser.dumps_typed(WithUnion(item=Other(x=1)))
    assert code_of(data) == codes.PYDANTIC_V2
    roundtrip(ser, WithUnion(item=addr(1)))


def test_recursive_models(ser: JsonPlusSerializer) -> None:
    deep = Node(value=0)
    for i in range(1, 70):  # deeper than MAX_FOLD_DEPTH: the rest keeps class references
        deep = Node(value=i, children=[deep, Node(value=-i)])
    roundtrip(ser, deep)
    cycle = Node(value=1)
    cycle.children.append(cycle)
    with pytest.raises(SerializationError, match="nested too deeply"):
        ser.dumps_typed(cycle)


def test_extras_frozen_and_fields_set_by_position(ser: JsonPlusSerializer) -> None:
    opened = Open(a=1, b=[1, 2])
    roundtrip(ser, opened)
    roundtrip(ser, Open())
    roundtrip(ser, Holder(open=Open(z=1), frozen=Frozen(k="v")))
    roundtrip(ser, Person.model_construct(name="p", by_tag={1: addr(1), "b": addr(2)}))
    out = roundtrip(ser, Person(name="p", homes=[addr(1)]))
    assert out.model_fields_set == {"name", "homes"}


def test_payloads_from_the_earlier_format_still_load(ser: JsonPlusSerializer) -> None:
    module, name = __name__, "Address"
    old = ormsgpack.packb(Ext(codes.PYDANTIC_V2, ormsgpack.packb(
        [module, name, {"street": "s", "city": "Rome"}, ["street"], None]
    )))  # fmt: skip
    out = ser.loads_typed(("msgpack", old))
    assert out == Address(street="s") and out.model_fields_set == {"street"}
    values = {**Person(name="p").__dict__, "address": {"street": "s"}}
    nested = ormsgpack.packb(
        Ext(codes.PYDANTIC_V2, ormsgpack.packb([module, "Person", values, ["name"], None]))
    )
    assert ser.loads_typed(("msgpack", nested)).address == {"street": "s"}  # no folding there


def tree(payload: Any) -> bytes:
    inner = ormsgpack.packb(payload, option=ormsgpack.OPT_NON_STR_KEYS)
    return ormsgpack.packb(Ext(codes.PYDANTIC_V2_TREE, inner))


def test_folded_model_from_another_class_version_is_constructed(ser: JsonPlusSerializer) -> None:
    values = {**Person(name="p").__dict__, "address": {"street": "s"}}
    out = ser.loads_typed(("msgpack", tree([__name__, "Person", values])))
    assert out.address == Address(street="s") and out.address.model_fields_set == {"street"}


def test_strict_mode_checks_folded_classes() -> None:
    value = Person(name="p", address=addr(1))
    data = JsonPlusSerializer().dumps_typed(value)
    with pytest.raises(SerializationError, match="strict=True"):
        JsonPlusSerializer(strict=True, allowed_types=[Person]).loads_typed(data)
    out = JsonPlusSerializer(strict=True, allowed_types=[Person, Address]).loads_typed(data)
    assert out == value
    # A payload without any folded Address needs only Person.
    plain = JsonPlusSerializer().dumps_typed(Person(name="p", homes=[]))
    JsonPlusSerializer(strict=True, allowed_types=[Person]).loads_typed(plain)


def test_malformed_tree_payloads_are_clean_errors(ser: JsonPlusSerializer) -> None:
    base = Person(name="p").__dict__
    for values in (
        {**base, "address": {1: 2}},
        {**base, "homes": [{"street": "s", 2: "x"}]},
    ):
        with pytest.raises(SerializationError):
            ser.loads_typed(("msgpack", tree([__name__, "Person", values])))
    # A name that is no field (written by another version) is dropped, as model_construct does.
    odd = {**base, "homes": [{"street": "s", "_fields_set": 1}]}
    out = ser.loads_typed(("msgpack", tree([__name__, "Person", odd])))
    assert out.homes[0].__dict__ == {"street": "s", "city": "Rome"}
    assert out.homes[0].model_fields_set == {"street"}
    deep: Any = {"value": 0, "children": []}
    for _ in range(100):
        deep = {"value": 0, "children": [deep]}
    with pytest.raises(SerializationError, match="nested too deeply"):
        ser.loads_typed(("msgpack", tree([__name__, "Node", deep])))
