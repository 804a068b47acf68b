"""Reading LangGraph's own msgpack format (its extension codes 0-7) under waypoint's rules.

LangGraph's serializer names a class and hands its constructor the stored arguments; waypoint
never imports a module or calls a class's code on load. So each LangGraph form is mapped to a
fixed rebuild: standard-library values are built from their parts, LangGraph's ``Send`` and
``Interrupt`` become waypoint's, Enums/dataclasses/NamedTuples/pydantic models go through the
type policy (imported module, allowed kind, or ``allowed_types``) exactly like waypoint's own
extension types, and anything else is refused with an error naming the class. This lets
``waypoint migrate --from langgraph+sqlite://...`` and the CLI read a LangGraph database.

Pydantic v2 models are stored by LangGraph as ``model_dump()`` output, so nested models come
back as dicts unless validated: an allowed model class is rebuilt with ``model_validate`` (its
own validators run, as under LangGraph) and, if that fails, field by field without validation.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import ipaddress
import pathlib
import re
import sys
import uuid
from collections import deque
from typing import Any

from waypoint.checkpoint.serde import _pydantic
from waypoint.checkpoint.serde._policy import TypePolicy, class_kind
from waypoint.checkpoint.serde._rebuild import (
    dataclass_from,
    enum_member,
    namedtuple_from,
    pydantic_v1_from,
)
from waypoint.checkpoint.serde._stdlib import Decoder, Unpack
from waypoint.errors import SerializationError

SINGLE_ARG, POS_ARGS, KW_ARGS, METHOD_ARG, PYDANTIC_V1, PYDANTIC_V2, NUMPY, DELTA = range(8)

_IP = {n: getattr(ipaddress, n) for n in (
    "IPv4Address", "IPv4Interface", "IPv4Network", "IPv6Address", "IPv6Interface", "IPv6Network")}
_PATHS = {n: getattr(pathlib, n) for n in (
    "Path", "PosixPath", "WindowsPath", "PurePath", "PurePosixPath", "PureWindowsPath")}
_SINGLE = {
    ("uuid", "UUID"): lambda v: uuid.UUID(hex=v),
    ("decimal", "Decimal"): decimal.Decimal,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("collections", "deque"): deque,
    **{("ipaddress", n): c for n, c in _IP.items()},
}
_DATETIME = {"datetime": _dt.datetime, "date": _dt.date, "time": _dt.time}


def _tuple(data: bytes, unpack: Unpack, size: int) -> list[Any]:
    tup = unpack(data)
    if not isinstance(tup, (list, tuple)) or len(tup) < size or not all(isinstance(x, str) for x in tup[:2]):
        raise SerializationError("malformed LangGraph msgpack payload: expected (module, name, ...)")
    return list(tup)


def _refuse(module: str, name: str, form: str) -> SerializationError:
    return SerializationError(
        f"cannot load {module}.{name} from LangGraph's {form} form: waypoint rebuilds only "
        "standard-library values, Enums, dataclasses, NamedTuples and pydantic models (allowed "
        "by the serializer's policy); import the class's module first or pass allowed_types=[...]"
    )


def _class(policy: TypePolicy, module: str, name: str) -> tuple[type, str]:
    """The class a payload names, if its module is imported, with its kind (policy-checked)."""
    mod = sys.modules.get(module)
    if mod is None and module.startswith("langchain_core."):
        from waypoint import _langchain

        if _langchain.import_safe_module(module, name):
            mod = sys.modules.get(module)
    cls = getattr(mod, name, None) if mod is not None else None
    kind = class_kind(cls) if isinstance(cls, type) else None
    if kind is None or kind == "exception":
        return policy.resolve(module, name, "object"), "object"
    return policy.resolve(module, name, kind), kind


def _waypoint_type(name: str) -> Any:
    from waypoint import types

    return getattr(types, name)


def decoders(policy: TypePolicy) -> dict[int, Decoder]:
    """Decoders for LangGraph's extension codes, checked by ``policy``."""

    def single(data: bytes, unpack: Unpack) -> Any:
        module, name, arg = _tuple(data, unpack, 3)[:3]
        build = _SINGLE.get((module, name))
        if build is not None:
            return build(arg)
        if module == "zoneinfo" and name == "ZoneInfo":
            from zoneinfo import ZoneInfo

            return ZoneInfo(arg)
        if module.startswith("pydantic") and name in ("SecretStr", "SecretBytes"):
            cls = getattr(sys.modules.get(module), name, None)
            if not isinstance(cls, type):
                raise _refuse(module, name, "secret")
            return cls(arg)
        cls, kind = _class(policy, module, name)
        if kind != "enum":
            raise _refuse(module, name, "single-argument constructor")
        return enum_member(cls, arg)

    def positional(data: bytes, unpack: Unpack) -> Any:
        module, name, args = _tuple(data, unpack, 3)[:3]
        args = list(args) if isinstance(args, (list, tuple)) else [args]
        if module == "langgraph.types" and name == "Send":
            if len(args) > 2 and args[2] is not None:
                raise SerializationError(
                    f"a stored Send to {args[0]!r} carries a timeout, which waypoint's Send cannot hold"
                )
            return _waypoint_type("Send")(args[0], args[1])
        if module == "re" and name == "compile":
            return re.compile(*args)
        if module == "datetime" and name in ("timedelta", "date", "timezone"):
            return getattr(_dt, name)(*args)
        if module == "pathlib" and name in _PATHS:
            return _PATHS[name](*args)
        raise _refuse(module, name, "positional constructor")

    def keywords(data: bytes, unpack: Unpack) -> Any:
        module, name, kwargs = _tuple(data, unpack, 3)[:3]
        if not isinstance(kwargs, dict):
            raise SerializationError(f"malformed LangGraph payload for {module}.{name}: expected a dict")
        if module == "datetime" and name == "time":
            return _dt.time(**kwargs)
        if module == "langgraph.types" and name == "Interrupt":
            value, iid = kwargs.get("value"), kwargs.get("id") or kwargs.get("interrupt_id")
            return _waypoint_type("Interrupt")(value, iid) if iid else _waypoint_type("Interrupt")(value)
        if module == "langgraph.store.base" and name in ("Item", "SearchItem"):
            from waypoint.store import base as store_base

            return getattr(store_base, name)(**kwargs)
        cls, kind = _class(policy, module, name)
        if kind == "dataclass":
            return dataclass_from(cls, kwargs)
        if kind == "namedtuple":
            return namedtuple_from(cls, [kwargs.get(f) for f in cls._fields])  # type: ignore[attr-defined]
        raise _refuse(module, name, "keyword constructor")

    def method(data: bytes, unpack: Unpack) -> Any:
        module, name, arg, meth = _tuple(data, unpack, 4)[:4]
        if module == "datetime" and name in _DATETIME and meth == "fromisoformat":
            return _DATETIME[name].fromisoformat(arg)
        raise _refuse(module, name, f"{meth!r} method")

    def pydantic_v1(data: bytes, unpack: Unpack) -> Any:
        module, name, values = _tuple(data, unpack, 3)[:3]
        cls, kind = _class(policy, module, name)
        if kind != "pydantic_v1":
            raise _refuse(module, name, "pydantic v1")
        return pydantic_v1_from(cls, dict(values), None)

    def pydantic_v2(data: bytes, unpack: Unpack) -> Any:
        module, name, values = _tuple(data, unpack, 3)[:3]
        cls, kind = _class(policy, module, name)
        if kind != "pydantic":
            raise _refuse(module, name, "pydantic")
        try:
            return cls.model_validate(values)  # type: ignore[attr-defined]
        except Exception:
            return _pydantic.construct(cls, dict(values), None, None)

    def numpy_array(data: bytes, unpack: Unpack) -> Any:
        import numpy as np

        dtype, shape, order, buf = unpack(data)
        dt = np.dtype(dtype)
        if dt.hasobject:
            raise SerializationError("refusing a numpy array of dtype object")
        return np.frombuffer(buf, dtype=dt).reshape(shape, order=order).copy()

    def delta(data: bytes, unpack: Unpack) -> Any:
        return unpack(data)

    return {SINGLE_ARG: single, POS_ARGS: positional, KW_ARGS: keywords, METHOD_ARG: method,
            PYDANTIC_V1: pydantic_v1, PYDANTIC_V2: pydantic_v2, NUMPY: numpy_array, DELTA: delta}
