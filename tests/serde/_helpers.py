"""Shared assertions for the serde tests: exact (type-and-value) sameness, NaN-aware."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import math
from typing import Any

import numpy as np


def _scalar_same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, decimal.Decimal) and isinstance(b, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, complex) and isinstance(b, complex):
        return _scalar_same(a.real, b.real) and _scalar_same(a.imag, b.imag)
    return bool(a == b)


def same(a: Any, b: Any) -> bool:
    """True if ``b`` is an exact copy of ``a``: same types all the way down, equal values."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and a.flags.c_contiguous == b.flags.c_contiguous
            and a.flags.f_contiguous == b.flags.f_contiguous
            and b.flags.writeable
            and a.tobytes() == b.tobytes()
        )
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, collections.deque):
        return a.maxlen == b.maxlen and same(list(a), list(b))
    if isinstance(a, collections.defaultdict) and a.default_factory is not b.default_factory:
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        if isinstance(a, collections.OrderedDict) and list(a) != list(b):
            return False
        return _match_all(list(a.items()), list(b.items()), lambda p, q: same(p, q))
    if isinstance(a, set | frozenset):
        return len(a) == len(b) and _match_all(list(a), list(b), same)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return _state_same(a, b)
    if hasattr(a, "__pydantic_fields_set__"):
        return (
            a.__pydantic_fields_set__ == b.__pydantic_fields_set__
            and same(a.__dict__, b.__dict__)
            and same(a.__pydantic_extra__, b.__pydantic_extra__)
        )
    if hasattr(a, "__fields_set__") and hasattr(a, "__fields__"):  # pydantic.v1
        return a.__fields_set__ == b.__fields_set__ and same(a.__dict__, b.__dict__)
    if isinstance(a, BaseException):
        return same(a.args, b.args) and same(_state(a), _state(b))
    if hasattr(a, "__dict__") and not isinstance(a, type) and type(a).__eq__ is object.__eq__:
        return _state_same(a, b)
    if isinstance(a, datetime.datetime | datetime.time):
        tz_ok = (a.tzinfo is None and b.tzinfo is None) or _tz_same(a.tzinfo, b.tzinfo)
        return a == b and tz_ok and a.fold == b.fold
    return _scalar_same(a, b)


def _tz_same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if hasattr(a, "key"):
        return a.key == b.key
    return a == b and a.tzname(None) == b.tzname(None)


def _state(obj: Any) -> dict[str, Any]:
    state = dict(getattr(obj, "__dict__", {}))
    for klass in type(obj).__mro__:
        for name in getattr(klass, "__slots__", ()):
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                state[name] = getattr(obj, name)
    return state


def _state_same(a: Any, b: Any) -> bool:
    return same(_state(a), _state(b))


def _match_all(xs: list[Any], ys: list[Any], eq: Any) -> bool:
    """Every x pairs with a distinct y under ``eq`` (quadratic; fine for test sizes)."""
    remaining = list(ys)
    for x in xs:
        for i, y in enumerate(remaining):
            if eq(x, y):
                del remaining[i]
                break
        else:
            return False
    return not remaining


def assert_same(expected: Any, actual: Any) -> None:
    assert same(expected, actual), f"not an exact copy:\n  in:  {expected!r}\n  out: {actual!r}"


def roundtrip(serializer: Any, value: Any) -> Any:
    out = serializer.loads_typed(serializer.dumps_typed(value))
    assert_same(value, out)
    return out
