"""Codecs for values whose class is stored by reference: Enum, dataclass, pydantic, NamedTuple,
exceptions, LangChain-serializable objects and explicitly allowed plain classes.

Encoders are built once per class (``encoder_for``) with the class reference precomputed.
Decoders resolve the reference through ``TypePolicy`` and rebuild without running the class's
``__init__`` where the kind allows it:

* dataclasses and plain classes: ``object.__new__`` then the stored attributes are written to the
  instance ``__dict__`` or its slots (like ``copy``/``pickle`` do); ``__post_init__`` is not run;
* pydantic v2 models: see ``_pydantic`` (nested models folded into their parent);
* pydantic v1 models: ``construct`` (no validation), keeping the set of explicitly set fields;
* NamedTuples: ``tuple.__new__``; Enums: member lookup by value;
* exceptions: the nearest builtin exception's ``__new__`` with the stored ``args``;
* LangChain constructor form: the class is called with its stored kwargs, as LangChain does.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any

from ormsgpack import Ext

from waypoint.checkpoint.serde import _pydantic
from waypoint.checkpoint.serde._policy import (
    TypePolicy,
    class_kind,
    class_ref,
    is_namedtuple_class,
)
from waypoint.checkpoint.serde._stdlib import (
    DATACLASS,
    ENUM,
    EXCEPTION,
    LC_CONSTRUCTOR,
    NAMEDTUPLE,
    OBJECT,
    PYDANTIC_V1,
    Decoder,
    Encoder,
    Pack,
    Unpack,
    expect,
    take_parked,
)

_slot_cache: dict[type, dict[str, Any]] = {}


def _slot_descriptors(cls: type) -> dict[str, Any]:
    """Map of slot name to its member descriptor, over the whole MRO."""
    found = _slot_cache.get(cls)
    if found is None:
        found = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, types.MemberDescriptorType):
                    found[name] = value
        if len(_slot_cache) > 4096:
            _slot_cache.clear()
        _slot_cache[cls] = found
    return found


def _has_slots(cls: type) -> bool:
    return bool(_slot_descriptors(cls))


def _instance_state(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """Instance ``__dict__`` plus the slot values among ``names`` (and every set slot)."""
    try:
        state = dict(object.__getattribute__(obj, "__dict__"))
    except AttributeError:
        state = {}
    for name, desc in _slot_descriptors(type(obj)).items():
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


def _restore(obj: Any, state: Any) -> Any:
    """Write ``state`` into ``obj``'s slots or ``__dict__`` without calling class code."""
    cls = type(obj)
    slots = _slot_descriptors(cls)
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


def _builtin_exception_base(cls: type) -> type:
    for klass in cls.__mro__:
        if klass.__module__ == "builtins":
            return klass
    return BaseException


def encoder_for(cls: type, policy: TypePolicy) -> Encoder | None:
    """Build the encoder for instances of ``cls``, or return ``None`` if it has no kind."""
    kind = class_kind(cls)
    if kind == "exception":
        return _exception_encoder(cls)
    if kind is None:
        if _is_lc_serializable(cls):
            return _lc_encoder(cls)
        if policy.explicitly_allowed(cls):
            return _object_encoder(cls)
        return None
    module, qualname = class_ref(cls)
    if kind == "enum":

        def enc_enum(obj: Any, pack: Pack) -> Ext:
            return Ext(ENUM, pack([module, qualname, obj._value_]))

        return enc_enum
    if kind == "pydantic":
        return _pydantic.encoder(cls, module, qualname)
    if kind == "pydantic_v1":

        def enc_pydantic_v1(obj: Any, pack: Pack) -> Ext:
            fields_set = sorted(obj.__fields_set__)
            return Ext(PYDANTIC_V1, pack([module, qualname, obj.__dict__, fields_set]))

        return enc_pydantic_v1
    if kind == "namedtuple":

        def enc_namedtuple(obj: Any, pack: Pack) -> Ext:
            return Ext(NAMEDTUPLE, pack([module, qualname, list(obj)]))

        return enc_namedtuple
    names = tuple(f.name for f in dataclasses.fields(cls))
    if not _has_slots(cls):

        def enc_dataclass(obj: Any, pack: Pack) -> Ext:
            return Ext(DATACLASS, pack([module, qualname, obj.__dict__]))

        return enc_dataclass

    def enc_slots_dataclass(obj: Any, pack: Pack) -> Ext:
        return Ext(DATACLASS, pack([module, qualname, _instance_state(obj, names)]))

    return enc_slots_dataclass


def _exception_encoder(cls: type) -> Encoder:
    """Exceptions degrade instead of failing: they are often error records of a failed step.

    If the args or attributes cannot be serialized, only ``str(exc)`` is kept as the args; if
    the class cannot be found again (defined inside a function), an ``Exception`` carrying
    ``"ClassName: message"`` is stored.
    """
    try:
        ref: tuple[str, str] | None = class_ref(cls)
    except TypeError:
        ref = None

    def enc_exception(obj: BaseException, pack: Pack) -> Ext:
        if ref is not None:
            state = _instance_state(obj, ())
            for payload in (
                [*ref, list(obj.args), state or None],
                [*ref, [_text(obj)], None],
            ):
                try:
                    return Ext(EXCEPTION, pack(payload))
                except Exception:
                    take_parked()
        message = f"{cls.__name__}: {_text(obj)}"
        return Ext(EXCEPTION, pack(["builtins", "Exception", [message], None]))

    return enc_exception


def _text(obj: BaseException) -> str:
    try:
        return str(obj)
    except Exception:
        return f"<unprintable {type(obj).__qualname__}>"


def _object_encoder(cls: type) -> Encoder:
    module, qualname = class_ref(cls)
    custom = getattr(cls, "__getstate__", None) is not getattr(object, "__getstate__", None)

    def enc_object(obj: Any, pack: Pack) -> Ext:
        state = obj.__getstate__() if custom else _instance_state(obj, ())
        return Ext(OBJECT, pack([module, qualname, custom, state]))

    return enc_object


def _is_lc_serializable(cls: type) -> bool:
    """Duck-typed LangChain ``Serializable`` check (langchain-core is optional)."""
    check = getattr(cls, "is_lc_serializable", None)
    if not callable(check) or not callable(getattr(cls, "to_json", None)):
        return False
    try:
        return bool(check())
    except Exception:
        return False


def _lc_encoder(cls: type) -> Encoder:
    module, qualname = class_ref(cls)

    def enc_lc(obj: Any, pack: Pack) -> Ext:
        data = obj.to_json()
        if not isinstance(data, dict) or data.get("type") != "constructor":
            raise TypeError(f"{module}.{qualname}.to_json() did not return a constructor form")
        kwargs = data.get("kwargs") or {}
        return Ext(LC_CONSTRUCTOR, pack([module, qualname, kwargs]))

    return enc_lc


def object_decoders(policy: TypePolicy) -> dict[int, Decoder]:
    """Decoders for class-reference ext codes, bound to ``policy``."""
    resolve = policy.resolve

    def dec_enum(data: bytes, unpack: Unpack) -> Any:
        module, qualname, value = expect(unpack(data), list, "enum")
        cls: Any = resolve(module, qualname, "enum")
        try:
            member = cls._value2member_map_.get(value)
        except TypeError:  # unhashable value
            member = None
        return member if member is not None else cls(value)

    def dec_dataclass(data: bytes, unpack: Unpack) -> Any:
        module, qualname, state = expect(unpack(data), list, "dataclass")
        cls = resolve(module, qualname, "dataclass")
        obj: Any = object.__new__(cls)
        if _has_slots(cls):
            return _restore(obj, state)
        object.__getattribute__(obj, "__dict__").update(expect(state, dict, "dataclass state"))
        return obj

    def dec_pydantic_v1(data: bytes, unpack: Unpack) -> Any:
        module, qualname, values, fields_set = expect(unpack(data), list, "pydantic.v1 model")
        cls: Any = resolve(module, qualname, "pydantic_v1")
        fields = set(expect(fields_set, list, "pydantic fields set"))
        return cls.construct(_fields_set=fields, **expect(values, dict, "pydantic.v1 model"))

    def dec_namedtuple(data: bytes, unpack: Unpack) -> Any:
        module, qualname, values = expect(unpack(data), list, "NamedTuple")
        cls: Any = resolve(module, qualname, "namedtuple")
        if len(expect(values, list, "NamedTuple")) != len(cls._fields):
            raise ValueError(f"malformed {qualname}: expected {len(cls._fields)} items")
        return tuple.__new__(cls, values)

    def dec_exception(data: bytes, unpack: Unpack) -> Any:
        module, qualname, args, state = expect(unpack(data), list, "exception")
        cls: Any = resolve(module, qualname, "exception")
        args = expect(args, list, "exception args")
        exc = _builtin_exception_base(cls).__new__(cls, *args)
        exc.args = tuple(args)
        return exc if state is None else _restore(exc, state)

    def dec_object(data: bytes, unpack: Unpack) -> Any:
        module, qualname, custom, state = expect(unpack(data), list, "object")
        cls: Any = resolve(module, qualname, "object")
        obj = cls.__new__(cls)
        if custom is True:
            obj.__setstate__(state)
            return obj
        return _restore(obj, state)

    def dec_lc(data: bytes, unpack: Unpack) -> Any:
        module, qualname, kwargs = expect(unpack(data), list, "LangChain object")
        cls: Any = resolve(module, qualname, "lc")
        return cls(**expect(kwargs, dict, "LangChain kwargs"))

    return {
        ENUM: dec_enum,
        DATACLASS: dec_dataclass,
        **_pydantic.decoders(policy),
        PYDANTIC_V1: dec_pydantic_v1,
        NAMEDTUPLE: dec_namedtuple,
        EXCEPTION: dec_exception,
        OBJECT: dec_object,
        LC_CONSTRUCTOR: dec_lc,
    }


__all__ = ["encoder_for", "is_namedtuple_class", "object_decoders"]
