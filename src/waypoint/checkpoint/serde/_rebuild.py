"""Rebuilding instances from stored data without running any of their class's code.

Loading must never call a user class's ``__init__``, ``__new__`` override, ``__post_init__``,
``model_post_init``, validators or ``_missing_``: any imported class can be named by stored
data, so each of those would run on data an attacker chose. Every decoder (msgpack extension
types and the JSON constructor form) rebuilds through the functions here instead:

* an empty instance comes from the nearest builtin ``__new__`` (``object.__new__`` for plain
  classes), and stored attributes are written straight into its ``__dict__`` or slots;
* Enum members are looked up by value; a ``Flag`` composite is built by the standard library's
  own ``Flag._missing_``, never by a class's override;
* NamedTuples go through ``tuple.__new__``; pydantic models through ``_pydantic.construct``.

The one exception is LangChain's constructor form naming a ``langchain_core`` ``Serializable``
class, which is called with its stored keyword arguments, as LangChain's own loader does.
"""

from __future__ import annotations

import dataclasses
import enum
import types
from typing import Any

from waypoint.checkpoint.serde import _pydantic
from waypoint.checkpoint.serde._policy import (
    TypePolicy,
    class_kind,
    is_lc_serializable,
    pydantic_v1_base,
)
from waypoint.checkpoint.serde._stdlib import expect
from waypoint.errors import SerializationError

_slot_cache: dict[type, dict[str, Any]] = {}
_MRO = vars(type)["__mro__"]
_STOCK_FLAG_MISSING = vars(enum.Flag)["_missing_"].__func__


def mro(cls: type) -> tuple[type, ...]:
    """``cls.__mro__`` read through ``type`` itself (a metaclass cannot intercept it)."""
    return _MRO.__get__(cls)


def slot_descriptors(cls: type) -> dict[str, Any]:
    """Map of slot name to its member descriptor, over the whole MRO."""
    found = _slot_cache.get(cls)
    if found is None:
        found = {}
        for klass in reversed(mro(cls)):
            for name, value in vars(klass).items():
                if isinstance(value, types.MemberDescriptorType):
                    found[name] = value
        if len(_slot_cache) > 4096:
            _slot_cache.clear()
        _slot_cache[cls] = found
    return found


def instance_state(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """Instance ``__dict__`` plus the slot values among ``names`` (and every set slot)."""
    try:
        state = dict(object.__getattribute__(obj, "__dict__"))
    except AttributeError:
        state = {}
    for name, desc in slot_descriptors(type(obj)).items():
        if name not in state and name not in ("__weakref__",):
            try:
                state[name] = desc.__get__(obj, type(obj))
            except AttributeError:
                continue
    for name in names:
        if name not in state:
            try:
                state[name] = getattr(obj, name)
            except AttributeError:
                continue
    return state


def builtin_base(cls: type) -> type:
    """The nearest class in ``cls``'s MRO whose ``__new__`` is C code, not a Python override."""
    for klass in mro(cls):
        new = vars(klass).get("__new__")
        if isinstance(new, types.BuiltinFunctionType):
            return klass
    return object


_new_cache: dict[type, Any] = {}


def bare_instance(cls: type) -> Any:
    """A new, uninitialized instance of ``cls``: the builtin base's ``__new__``, no hooks."""
    new = _new_cache.get(cls)
    if new is None:
        new = builtin_base(cls).__new__
        if len(_new_cache) > 4096:
            _new_cache.clear()
        _new_cache[cls] = new
    return new(cls)


def restore(obj: Any, state: Any) -> Any:
    """Write ``state`` into ``obj``'s slots or ``__dict__`` without calling class code."""
    cls = type(obj)
    slots = slot_descriptors(cls)
    try:
        namespace = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        namespace = None
    for name, value in expect(state, dict, f"{cls.__qualname__} state").items():
        if type(name) is not str:
            raise TypeError(f"malformed {cls.__qualname__} state: non-str attribute name")
        desc = slots.get(name)
        if desc is not None and name not in ("__dict__", "__weakref__"):
            desc.__set__(obj, value)
        elif namespace is not None:
            namespace[name] = value
        else:
            raise TypeError(f"{cls.__qualname__} has no attribute slot {name!r}")
    return obj


def dataclass_from(cls: type, state: Any) -> Any:
    """A dataclass instance holding ``state`` as its attributes; ``__post_init__`` not run."""
    obj = bare_instance(cls)
    if slot_descriptors(cls):  # cached per class
        return restore(obj, state)
    object.__getattribute__(obj, "__dict__").update(expect(state, dict, "dataclass state"))
    return obj


def enum_member(cls: Any, value: Any) -> Any:
    """The member of ``cls`` whose value is ``value``, found without calling ``_missing_``."""
    try:
        member = cls._value2member_map_.get(value)
    except TypeError:  # unhashable: Enum itself falls back to a linear search
        member = next((m for m in cls._member_map_.values() if m._value_ == value), None)
    if member is None and issubclass(cls, enum.Flag) and type(value) is int:
        # A composite flag: the standard library's own constructor, whatever the class overrides.
        try:
            member = _STOCK_FLAG_MISSING(cls, value)
        except ValueError:
            member = None
    if not isinstance(member, cls):
        raise ValueError(f"{value!r:.80} is not a member of {cls.__qualname__}")
    return member


def namedtuple_from(cls: Any, values: Any) -> Any:
    """A NamedTuple from its stored item list, through ``tuple.__new__``."""
    if len(expect(values, list, "NamedTuple")) != len(cls._fields):
        raise ValueError(f"malformed {cls.__qualname__}: expected {len(cls._fields)} items")
    return tuple.__new__(cls, values)


def pydantic_v1_from(cls: Any, values: dict[str, Any], fields_set: set[str] | None) -> Any:
    """What ``construct`` does (no validation), without the class's ``__new__`` or overrides."""
    obj = object.__new__(cls)
    state: dict[str, Any] = {}
    for name, field in cls.__fields__.items():
        if name not in values and not field.required:
            state[name] = field.get_default()  # a copy of the declared default
    state.update(values)
    object.__setattr__(obj, "__dict__", state)
    object.__setattr__(obj, "__fields_set__", set(values) if fields_set is None else fields_set)
    pydantic_v1_base()._init_private_attributes(obj)  # the base's own method: declared defaults
    return obj


# --- the constructor form (msgpack ext 46 and JSON ``{"lc": ..., "type": "constructor"}``) ---


def _kwargs_only(cls: type, args: list[Any]) -> None:
    if args:
        raise SerializationError(
            f"malformed constructor form for {cls.__qualname__}: positional arguments are "
            "not accepted for this kind of class"
        )


def _check_fields(cls: type, kwargs: dict[str, Any], fields: Any) -> None:
    for name in kwargs:
        if name not in fields:
            raise SerializationError(
                f"malformed constructor form for {cls.__qualname__}: {name!r} is not a field "
                "(it could only be used by running the class's own code)"
            )


def from_constructor(policy: TypePolicy, cls: type, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Rebuild an instance of ``cls`` from LangChain's constructor form, checked by ``policy``.

    Only LangChain ``Serializable`` classes are called (with keyword arguments, as LangChain
    does); dataclasses, pydantic models, Enums and NamedTuples are rebuilt by the same hook-free
    path as their own extension types; anything else is refused.
    """
    dotted = f"{cls.__module__}.{cls.__qualname__}"
    if is_lc_serializable(cls):
        policy.check(cls, "lc")
        _kwargs_only(cls, args)
        return cls(**kwargs)
    kind = class_kind(cls)
    if kind == "dataclass":
        policy.check(cls, kind)
        _kwargs_only(cls, args)
        _check_fields(cls, kwargs, {f.name for f in dataclasses.fields(cls)})
        return dataclass_from(cls, kwargs)
    if kind == "pydantic":
        policy.check(cls, kind)
        _kwargs_only(cls, args)
        return _pydantic.construct(cls, dict(kwargs), None, None)
    if kind == "pydantic_v1":
        policy.check(cls, kind)
        _kwargs_only(cls, args)
        return pydantic_v1_from(cls, dict(kwargs), None)
    if kind == "enum":
        policy.check(cls, kind)
        if len(args) != 1 or kwargs:
            raise SerializationError(
                f"malformed constructor form for {cls.__qualname__}: an Enum takes one value"
            )
        try:
            return enum_member(cls, args[0])
        except ValueError as exc:
            raise SerializationError(f"cannot load {dotted!r}: {exc}") from None
    if kind == "namedtuple":
        policy.check(cls, kind)
        fields: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
        defaults: dict[str, Any] = cls._field_defaults  # type: ignore[attr-defined]
        _check_fields(cls, kwargs, fields[len(args) :])
        values = list(args)
        for name in fields[len(args) :]:
            if name not in kwargs and name not in defaults:
                raise SerializationError(
                    f"malformed constructor form for {cls.__qualname__}: field {name!r} missing"
                )
            values.append(kwargs.get(name, defaults.get(name)))
        try:
            return namedtuple_from(cls, values)
        except ValueError as exc:
            raise SerializationError(str(exc)) from None
    policy.check(cls, "object")  # an unlisted class gets the usual "not an allowed type"
    raise SerializationError(
        f"refusing to load {dotted!r} from a constructor form: that would call the class with "
        "stored arguments. Only langchain_core Serializable classes are called; dataclasses, "
        "pydantic models, Enums and NamedTuples are rebuilt without running their code"
    )


__all__ = [
    "bare_instance",
    "dataclass_from",
    "enum_member",
    "from_constructor",
    "instance_state",
    "namedtuple_from",
    "pydantic_v1_from",
    "restore",
    "slot_descriptors",
]
