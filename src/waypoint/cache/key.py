"""The default cache key of ``CachePolicy``: a stable byte string of a node's (or task's)
arguments, equal for equal inputs whatever the order of dict keys."""

from __future__ import annotations

import pickle
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

_MAX_DEPTH = 10


def _frozen(obj: Any, depth: int = _MAX_DEPTH) -> Any:
    """``obj`` as nested tuples: mappings become key-sorted pairs, sequences tuples, arrays
    (anything with ``tobytes``) their type, bytes and shape."""
    if depth <= 0 or isinstance(obj, (str, bytes, int, float, bool, type(None))):
        return obj
    if isinstance(obj, Mapping):
        return tuple(sorted(((k, _frozen(v, depth - 1)) for k, v in obj.items()), key=_sort_key))
    if isinstance(obj, Sequence):
        return tuple(_frozen(v, depth - 1) for v in obj)
    if isinstance(obj, (set, frozenset)):
        return ("set", tuple(sorted((_frozen(v, depth - 1) for v in obj), key=_sort_key)))
    if not isinstance(obj, Hashable) and hasattr(obj, "tobytes"):
        return (type(obj).__name__, obj.tobytes(), getattr(obj, "shape", None))
    return obj


def _sort_key(item: Any) -> Any:
    return repr(item)


def default_cache_key(*args: Any, **kwargs: Any) -> bytes:
    """Key of a call's arguments (pickled after freezing nested dicts and lists)."""
    return pickle.dumps((_frozen(args), _frozen(kwargs)), protocol=5, fix_imports=False)
