"""Codecs for values whose class is stored by reference: Enum, dataclass, pydantic, NamedTuple,
exceptions, LangChain-serializable objects and explicitly allowed plain classes.

Encoders are built once per class (``encoder_for``) with the class reference precomputed.
Decoders resolve the reference through ``TypePolicy`` and rebuild without running the class's
code (see ``_rebuild``):

* dataclasses and plain classes: the builtin base's ``__new__`` then the stored attributes are
  written to the instance ``__dict__`` or its slots (like ``copy``/``pickle`` do); no
  ``__new__`` override, ``__init__`` or ``__post_init__`` runs. An explicitly allowed class
  whose ``__getstate__`` wrote its state gets its ``__setstate__`` called: the application
  vouched for it by listing it;
* pydantic v2 models: see ``_pydantic`` (nested models folded into their parent);
* pydantic v1 models: what ``construct`` does (no validation), keeping the fields set;
* NamedTuples: ``tuple.__new__``; Enums: member lookup by value, never ``_missing_``;
* exceptions: the nearest builtin exception's ``__new__`` with the stored ``args``;
* LangChain constructor form (ext 46, never written now): only a langchain_core
  ``Serializable`` class, called with its stored kwargs as LangChain's loader does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ormsgpack import Ext

from waypoint.checkpoint.serde import _pydantic, _subclass
from waypoint.checkpoint.serde._policy import (
    TypePolicy,
    class_kind,
    class_ref,
    is_namedtuple_class,
)
from waypoint.checkpoint.serde._rebuild import (
    bare_instance,
    dataclass_from,
    instance_state,
    enum_member,
    from_constructor,
    namedtuple_from,
    pydantic_v1_from,
    restore,
    slot_descriptors,
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

def _has_slots(cls: type) -> bool:
    return bool(slot_descriptors(cls))


_SET_ARGS = vars(BaseException)["args"].__set__


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
        builtin_subclass = _subclass.encoder_for(cls, policy)
        if builtin_subclass is not None:
            return builtin_subclass
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
        return Ext(DATACLASS, pack([module, qualname, instance_state(obj, names)]))

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
            state = instance_state(obj, ())
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
        state = obj.__getstate__() if custom else instance_state(obj, ())
        return Ext(OBJECT, pack([module, qualname, custom, state]))

    return enc_object


def object_decoders(policy: TypePolicy) -> dict[int, Decoder]:
    """Decoders for class-reference ext codes, bound to ``policy``."""
    resolve = policy.resolve

    def dec_enum(data: bytes, unpack: Unpack) -> Any:
        module, qualname, value = expect(unpack(data), list, "enum")
        return enum_member(resolve(module, qualname, "enum"), value)

    def dec_dataclass(data: bytes, unpack: Unpack) -> Any:
        module, qualname, state = expect(unpack(data), list, "dataclass")
        return dataclass_from(resolve(module, qualname, "dataclass"), state)

    def dec_pydantic_v1(data: bytes, unpack: Unpack) -> Any:
        module, qualname, values, fields_set = expect(unpack(data), list, "pydantic.v1 model")
        cls: Any = resolve(module, qualname, "pydantic_v1")
        fields = set(expect(fields_set, list, "pydantic fields set"))
        return pydantic_v1_from(cls, expect(values, dict, "pydantic.v1 model"), fields)

    def dec_namedtuple(data: bytes, unpack: Unpack) -> Any:
        module, qualname, values = expect(unpack(data), list, "NamedTuple")
        return namedtuple_from(resolve(module, qualname, "namedtuple"), values)

    def dec_exception(data: bytes, unpack: Unpack) -> Any:
        module, qualname, args, state = expect(unpack(data), list, "exception")
        cls: Any = resolve(module, qualname, "exception")
        args = expect(args, list, "exception args")
        exc = _builtin_exception_base(cls).__new__(cls, *args)
        _SET_ARGS(exc, tuple(args))  # not exc.args = ...: that would run a __setattr__ override
        return exc if state is None else restore(exc, state)

    def dec_object(data: bytes, unpack: Unpack) -> Any:
        module, qualname, custom, state = expect(unpack(data), list, "object")
        cls: Any = resolve(module, qualname, "object")
        obj = bare_instance(cls)
        if custom is True:
            # The one class hook loading runs: only for a class the application listed in
            # allowed_types/allowed_modules, whose __getstate__ wrote this state.
            obj.__setstate__(state)
            return obj
        return restore(obj, state)

    def dec_lc(data: bytes, unpack: Unpack) -> Any:
        module, qualname, kwargs = expect(unpack(data), list, "LangChain object")
        cls: Any = resolve(module, qualname, "lc")  # a langchain_core Serializable only
        return from_constructor(policy, cls, [], expect(kwargs, dict, "LangChain kwargs"))

    return {
        ENUM: dec_enum,
        DATACLASS: dec_dataclass,
        **_pydantic.decoders(policy),
        PYDANTIC_V1: dec_pydantic_v1,
        NAMEDTUPLE: dec_namedtuple,
        EXCEPTION: dec_exception,
        OBJECT: dec_object,
        LC_CONSTRUCTOR: dec_lc,
        **_subclass.decoders(policy),
    }


__all__ = ["encoder_for", "is_namedtuple_class", "object_decoders"]
