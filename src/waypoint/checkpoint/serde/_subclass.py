"""Subclasses of builtin types: ``str``, ``int``, ``float``, ``bytes``, ``bytearray``, ``list``,
``dict``, ``tuple``, ``set`` and ``frozenset``.

Such values turn up in state without anyone choosing them (langchain-core 1.x's
``AIMessage(...).text`` is a ``str`` subclass), so they must never make a run fail. A subclass
that is not of a kind waypoint already knows (an Enum, a NamedTuple...) is stored

* as its own class (ext ``BUILTIN_SUBCLASS``: class reference, builtin name, builtin value,
  instance attributes) when the serializer's ``allowed_types``/``allowed_modules`` list it,
  the same rule as for any plain class;
* otherwise as the plain builtin value, as LangGraph does.

The builtin value is taken with the builtin's own C methods (``str.__str__``, ``list.copy``...)
and the instance is rebuilt with the builtin's ``__new__`` (``str.__new__(cls, value)``) or an
empty instance filled by the builtin's own ``extend``/``update``: a ``__new__``/``__init__``
override, or any other method of the subclass, never runs on stored data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ormsgpack import Ext

from waypoint.checkpoint.serde._policy import TypePolicy, class_kind, class_ref
from waypoint.checkpoint.serde._rebuild import instance_state, mro, restore
from waypoint.checkpoint.serde._stdlib import BUILTIN_SUBCLASS, Decoder, Encoder, Pack, Unpack

# builtin -> (its name, the exact builtin value of an instance, how that value is stored)
_PLAIN: dict[type, tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = {
    str: ("str", str.__str__, lambda v: v),
    int: ("int", int.__int__, lambda v: v),
    float: ("float", float.__float__, lambda v: v),
    bytes: ("bytes", bytes.__bytes__, lambda v: v),
    bytearray: ("bytearray", bytearray.copy, bytes),
    list: ("list", list.copy, lambda v: v),
    dict: ("dict", dict.copy, lambda v: v),
    tuple: ("tuple", lambda v: tuple.__getitem__(v, slice(None)), list),
    set: ("set", set.copy, list),
    frozenset: ("frozenset", frozenset.copy, list),
}
_BY_NAME = {name: base for base, (name, _, _) in _PLAIN.items()}
# What a stored value must be for each builtin (tuples and sets are stored as lists).
_STORED_AS: dict[type, type] = {
    str: str, int: int, float: float, bytes: bytes, bytearray: bytes, list: list, dict: dict,
    tuple: list, set: list, frozenset: list,
}  # fmt: skip


def builtin_of(cls: type) -> type | None:
    """The builtin of ``_PLAIN`` that ``cls`` subclasses, if it is a subclass of one."""
    for klass in mro(cls)[1:]:
        if klass in _PLAIN:
            return klass
    return None


def encoder_for(cls: type, policy: TypePolicy) -> Encoder | None:
    """The encoder of a builtin subclass of no known kind, or ``None`` for other classes."""
    base = builtin_of(cls)
    if base is None or class_kind(cls) is not None:
        return None
    name, plain, stored = _PLAIN[base]
    ref: tuple[str, str] | None = None
    if policy.explicitly_allowed(cls):
        try:
            ref = class_ref(cls)
        except TypeError:  # defined in a function: it could not be found again
            ref = None

    if ref is None:

        def enc_as_builtin(obj: Any, pack: Pack) -> Any:
            return plain(obj)  # packed by the builtin's own rules

        return enc_as_builtin

    module, qualname = ref

    def enc_subclass(obj: Any, pack: Pack) -> Ext:
        state = instance_state(obj, ()) or None
        return Ext(BUILTIN_SUBCLASS, pack([module, qualname, name, stored(plain(obj)), state]))

    return enc_subclass


def decoders(policy: TypePolicy) -> dict[int, Decoder]:
    """The decoder of ``BUILTIN_SUBCLASS``, bound to ``policy``."""

    def dec_subclass(data: bytes, unpack: Unpack) -> Any:
        payload = unpack(data)
        if type(payload) is not list or len(payload) != 5:
            raise TypeError("malformed builtin subclass payload")
        module, qualname, name, value, state = payload
        cls: Any = policy.resolve(module, qualname, "object")
        base = _BY_NAME.get(name) if isinstance(name, str) else None
        if base is None or builtin_of(cls) is not base or class_kind(cls) is not None:
            raise ValueError(
                f"malformed builtin subclass payload: {qualname} is not a plain subclass of "
                f"{name!r:.40}"
            )
        if type(value) is not _STORED_AS[base]:
            raise TypeError(f"malformed {qualname} payload: got {type(value).__name__}")
        if base in (list, dict, set, bytearray):
            obj = base.__new__(cls)
            (dict.update if base is dict else base.extend if base is not set else set.update)(
                obj, value
            )
        else:
            obj = base.__new__(cls, value)
        return obj if state is None else restore(obj, state)

    return {BUILTIN_SUBCLASS: dec_subclass}


__all__ = ["builtin_of", "decoders", "encoder_for"]
