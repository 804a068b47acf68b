"""Loading runs no class code: constructor forms, enums and models are rebuilt hook-free.

Each payload family that once reached a class's own code (``__init__``, ``__new__``,
``__post_init__``, ``model_post_init``, validators, ``_missing_``) is tried with a gadget
class from ``tests.serde.gadgets``; the test proves nothing ran and shows what loading does
instead: a rebuild without hooks, or a ``SerializationError`` that says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ormsgpack
import pytest
from ormsgpack import Ext

from tests.serde import gadgets
from waypoint.checkpoint.serde import JsonPlusSerializer
from waypoint.checkpoint.serde import _stdlib as codes
from waypoint.errors import SerializationError

G = gadgets.__name__


@pytest.fixture(autouse=True)
def _nothing_ran() -> Iterator[None]:
    gadgets.RAN.clear()
    yield
    assert gadgets.RAN == [], f"loading ran class code: {gadgets.RAN}"


def ext(code: int, payload: Any) -> tuple[str, bytes]:
    return "msgpack", ormsgpack.packb(Ext(code, ormsgpack.packb(payload)))


def constructor(ident: list[str], lc: int = 1, **fields: Any) -> tuple[str, bytes]:
    doc = {"lc": lc, "type": "constructor", "id": ident, **fields}
    return "json", json.dumps({"wrapped": [doc]}).encode()


# --- msgpack ext 46: LangChain's constructor form -------------------------------------------


def test_reported_reproduction_writes_no_file(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    payload = ormsgpack.packb(Ext(46, ormsgpack.packb([G, "Upload", {"path": str(target)}])))
    with pytest.raises(SerializationError, match="Serializable"):
        JsonPlusSerializer().loads_typed(("msgpack", payload))
    assert not target.exists()


@pytest.mark.parametrize("name", ["Upload", "ValidatedModel", "PostInitModel", "NewHookModel",
                                  "V1Model", "MissingHook", "Point", "Plain"])  # fmt: skip
def test_ext46_calls_no_class(name: str, tmp_path: Path) -> None:
    for ser in (JsonPlusSerializer(), JsonPlusSerializer(allowed_modules=[G])):
        with pytest.raises(SerializationError, match="refusing to load"):
            ser.loads_typed(ext(codes.LC_CONSTRUCTOR, [G, name, {"path": str(tmp_path / "x")}]))
    assert not (tmp_path / "x").exists()


# --- JSON constructor form -------------------------------------------------------------------


@pytest.mark.parametrize("lc", [1, 2])
def test_json_constructor_dataclass_is_rebuilt_without_post_init(lc: int, tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    out = JsonPlusSerializer().loads_typed(
        constructor([G, "Upload"], lc, kwargs={"path": str(target)})
    )
    value = out["wrapped"][0]
    assert type(value) is gadgets.Upload and value.path == str(target)
    assert not target.exists()


def test_json_constructor_dataclass_refuses_what_only_init_could_use() -> None:
    ser = JsonPlusSerializer()
    with pytest.raises(SerializationError, match="not a field"):
        ser.loads_typed(constructor([G, "Upload"], kwargs={"path": "p", "mode": "w"}))
    with pytest.raises(SerializationError, match="positional"):
        ser.loads_typed(constructor([G, "Upload"], args=["p"]))


def test_json_constructor_new_override_not_called() -> None:
    out = JsonPlusSerializer().loads_typed(constructor([G, "NewHook"], kwargs={"a": 1}))
    value = out["wrapped"][0]
    assert type(value) is gadgets.NewHook and value.a == 1


@pytest.mark.parametrize("name", ["ValidatedModel", "PostInitModel", "NewHookModel"])
@pytest.mark.parametrize("lc", [1, 2])
def test_json_constructor_pydantic_runs_no_validator_or_hook(name: str, lc: int) -> None:
    out = JsonPlusSerializer().loads_typed(constructor([G, name], lc, kwargs={"path": "p"}))
    value = out["wrapped"][0]
    assert type(value) is getattr(gadgets, name)
    if name != "NewHookModel":
        assert value.path == "p" and value.model_fields_set == {"path"}


def test_json_constructor_pydantic_v1_and_private_model() -> None:
    ser = JsonPlusSerializer()
    v1 = ser.loads_typed(constructor([G, "V1Model"], kwargs={"a": 5}))["wrapped"][0]
    assert type(v1) is gadgets.V1Model and v1.a == 5 and v1.__fields_set__ == {"a"}
    private = ser.loads_typed(constructor([G, "PrivateModel"], kwargs={"name": "n"}))["wrapped"][0]
    assert type(private) is gadgets.PrivateModel and private.name == "n"
    assert private._cache == {}  # private attributes get their defaults


def test_json_constructor_enum_and_namedtuple() -> None:
    ser = JsonPlusSerializer()
    member = ser.loads_typed(constructor([G, "MissingHook"], 2, args=["a"]))["wrapped"][0]
    assert member is gadgets.MissingHook.A
    with pytest.raises(SerializationError, match="not a member"):
        ser.loads_typed(constructor([G, "MissingHook"], 2, args=["zzz"]))
    point = ser.loads_typed(constructor([G, "Point"], 2, kwargs={"x": 1}))["wrapped"][0]
    assert type(point) is gadgets.Point and point == (1, 0)
    with pytest.raises(SerializationError, match="not a field"):
        ser.loads_typed(constructor([G, "Point"], 2, kwargs={"x": 1, "z": 2}))


def test_json_constructor_plain_class_is_refused_even_when_allowed() -> None:
    for ser in (JsonPlusSerializer(), JsonPlusSerializer(allowed_types=[gadgets.Plain])):
        with pytest.raises(SerializationError, match="refusing to load"):
            ser.loads_typed(constructor([G, "Plain"], kwargs={"a": 1}))


def test_json_constructor_still_honours_strict() -> None:
    with pytest.raises(SerializationError, match="strict=True"):
        JsonPlusSerializer(strict=True).loads_typed(
            constructor([G, "Upload"], kwargs={"path": "p"})
        )


# --- pydantic exts 42/48/43 ------------------------------------------------------------------


def test_ext42_model_post_init_not_run() -> None:
    ser = JsonPlusSerializer()
    value = ser.loads_typed(ext(codes.PYDANTIC_V2, [G, "PostInitModel", {"path": "p"}]))
    assert type(value) is gadgets.PostInitModel and value.path == "p"
    # a payload lacking a field takes the model_construct-like path: still no hook
    partial = ser.loads_typed(ext(codes.PYDANTIC_V2, [G, "ValidatedModel", {"path": "p"}]))
    assert partial.size == 0 and partial.model_fields_set == {"path"}
    private = ser.loads_typed(ext(codes.PYDANTIC_V2, [G, "PrivateModel", {"name": "n"}]))
    assert private._cache == {}


def test_ext42_roundtrip_of_hooked_models_runs_no_hook_on_load() -> None:
    ser = JsonPlusSerializer()
    values = [gadgets.PostInitModel(path="p"), gadgets.ValidatedModel(path="q", size=2),
              gadgets.PrivateModel(name="n"), gadgets.NewHookModel(a=3)]  # fmt: skip
    dumped = ser.dumps_typed(values)
    gadgets.RAN.clear()  # building the values ran their hooks; loading must not
    out = ser.loads_typed(dumped)
    assert [type(v) for v in out] == [type(v) for v in values]
    assert [v.__dict__ for v in out] == [v.__dict__ for v in values]


def test_ext43_pydantic_v1_new_not_run() -> None:
    payload = ext(codes.PYDANTIC_V1, [G, "V1Model", {"a": 2}, ["a"]])
    value = JsonPlusSerializer().loads_typed(payload)
    assert type(value) is gadgets.V1Model and value.a == 2 and value.__fields_set__ == {"a"}


# --- ext 40 enums, ext 41 dataclasses, ext 45 allowed plain classes ---------------------------


def test_ext40_enum_missing_hook_not_run() -> None:
    ser = JsonPlusSerializer()
    assert ser.loads_typed(ext(codes.ENUM, [G, "MissingHook", "a"])) is gadgets.MissingHook.A
    with pytest.raises(SerializationError, match="not a member of"):
        ser.loads_typed(ext(codes.ENUM, [G, "MissingHook", "zzz"]))
    with pytest.raises(SerializationError, match="not a member of"):
        ser.loads_typed(ext(codes.ENUM, [G, "MissingHook", ["unhashable"]]))


def test_ext40_flag_composites_still_load() -> None:
    ser = JsonPlusSerializer()
    both = gadgets.Perm.R | gadgets.Perm.X
    assert ser.loads_typed(ser.dumps_typed(both)) is both
    assert ser.loads_typed(ext(codes.ENUM, [G, "Perm", 3])) == gadgets.Perm.R | gadgets.Perm.W
    with pytest.raises(SerializationError, match="not a member of"):
        ser.loads_typed(ext(codes.ENUM, [G, "Perm", 64]))


def test_ext41_dataclass_new_override_not_run(tmp_path: Path) -> None:
    ser = JsonPlusSerializer()
    value = ser.loads_typed(ext(codes.DATACLASS, [G, "NewHook", {"a": 1}]))
    assert type(value) is gadgets.NewHook and value.a == 1
    upload = ser.loads_typed(ext(codes.DATACLASS, [G, "Upload", {"path": str(tmp_path / "x")}]))
    assert type(upload) is gadgets.Upload and not (tmp_path / "x").exists()


def test_ext45_allowed_plain_class_new_and_init_not_run() -> None:
    ser = JsonPlusSerializer(allowed_types=[gadgets.Plain])
    value = ser.loads_typed(ext(codes.OBJECT, [G, "Plain", False, {"a": 7}]))
    assert type(value) is gadgets.Plain and value.a == 7


def test_ext47_exception_init_and_setattr_not_run() -> None:
    ser = JsonPlusSerializer()
    value = ser.loads_typed(ext(codes.EXCEPTION, [G, "HookedError", ["boom"], {"code": 7}]))
    assert type(value) is gadgets.HookedError and value.args == ("boom",) and value.code == 7
    dumped = ser.dumps_typed(gadgets.HookedError("again"))
    gadgets.RAN.clear()
    assert ser.loads_typed(dumped).args == ("again",)
