"""Fresh copies of decoded values without running the serializer again.

A decoded log item is captured once as a *state* that holds only exact builtin types, which
``marshal`` copies deeply (str, int, float, bool, None, bytes; list, tuple, dict, set,
frozenset of those), plus a *kind* that says how a fresh copy of the state becomes the item:
``PLAIN`` (the state is the item), a pydantic v2 class (state = ``__dict__``, fields set,
extra: rebuilt the way the serializer's decoder rebuilds it) or ``RAW`` (anything else: the
caller decodes the stored bytes again). ``marshal`` format 2 has no back-references, so no two
items of one read share an object, and nothing handed out is ever kept.

Used by the in-memory saver (per lineage) and by the SQL savers (``PageCache``: full log pages
by their stored bytes). Both return new objects on every read, like a fresh deserialization.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from waypoint._process import renew_lock_after_fork

MARSHAL_VERSION = 2
PLAIN, RAW = object(), object()
_ATOMS = frozenset({str, int, float, bool, type(None), bytes})
_MODEL_SLOTS = frozenset({"__dict__", "__weakref__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"})
_models: dict[type, bool] = {}
_new = object.__new__
_set = object.__setattr__


def _is_plain(value: Any) -> bool:
    """True if ``value`` holds only types that a marshal round trip copies exactly."""
    t = type(value)
    if t in _ATOMS:
        return True
    if t is list or t is tuple or t is set or t is frozenset:
        return all(_is_plain(v) for v in value)
    if t is dict:
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    return False


def _rebuildable_model(cls: type) -> bool:
    """A pydantic v2 model whose whole instance state is ``__dict__`` and the pydantic slots:
    no private attributes, no ``model_post_init``, no slots of its own."""
    known = _models.get(cls)
    if known is None:
        slots = [k.__dict__["__slots__"] for k in cls.__mro__ if "__slots__" in k.__dict__]
        known = (
            isinstance(getattr(cls, "__pydantic_fields__", None), dict)
            and getattr(cls, "__pydantic_post_init__", True) is None
            and not getattr(cls, "__private_attributes__", True)
            and all(set([s] if isinstance(s, str) else s) <= _MODEL_SLOTS for s in slots)
        )
        if len(_models) < 4096:
            _models[cls] = known
    return known


def state_of(value: Any, index: int) -> tuple[Any, list[Any]]:
    """``(kind, state)`` for freshly decoded item ``index``; a state is three values, kept flat
    so that a read allocates no tuple per item."""
    cls = type(value)
    try:
        if _rebuildable_model(cls) and value.__pydantic_private__ is None:
            state = [value.__dict__, value.__pydantic_fields_set__, value.__pydantic_extra__]
            if type(state[1]) is set and _is_plain(state):
                return cls, state
        elif _is_plain(value):
            return PLAIN, [value, None, None]
    except (RecursionError, AttributeError):  # too deep to check, or an unusual instance
        pass
    return RAW, [index, None, None]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a read builds a long list of fresh,
    acyclic objects (thousands of messages): every few hundred allocations would otherwise
    start a collection, and the full ones walk every live object of the process (measured:
    a 6,000-message get_state took 10-11 ms with the collector paused, 15-113 ms without, in
    a process holding ~90,000 objects). The collector stays as it was when it was already
    off; the objects built count towards its next collection as usual. The switch is
    process-wide: another thread that turns the collector off while a read is in here finds
    it back on when the read ends (a program that runs with the collector off should turn it
    off before it starts reading, as it does for any library)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def rebuild(kinds: Sequence[Any], states: list[Any], out: list[Any], raw: Callable[[int], Any]) -> None:
    """Append to ``out`` a fresh item per kind from ``states`` (three values per item, as
    ``marshal.loads`` just returned them); ``raw(index)`` decodes a ``RAW`` item."""
    append = out.append
    flat = iter(states)
    for kind, a, b, c in zip(kinds, flat, flat, flat):
        if kind is PLAIN:
            append(a)
        elif kind is RAW:
            append(raw(a))
        else:
            obj = _new(kind)
            _set(obj, "__dict__", a)
            _set(obj, "__pydantic_fields_set__", b)
            _set(obj, "__pydantic_extra__", c)
            _set(obj, "__pydantic_private__", None)
            append(obj)


class PageCache:
    """Decoded log pages of one serializer, keyed by their stored ``(type, bytes)``.

    A key is the stored content itself, so an entry can never go stale: the same bytes decode
    to the same items under the same serializer, whichever row, thread or process wrote them.
    Only pages whose every item has a marshal-able state are kept (else ``None``: decode as
    usual). Least recently used pages are dropped past ``max_bytes`` of stored states.
    """

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, bytes], tuple[list[Any], bytes]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        renew_lock_after_fork(self)

    def read(self, type_: str, data: bytes, decode: Callable[[], list[Any]]) -> list[Any]:
        """Fresh items of the page stored as ``(type_, data)``; ``decode()`` decodes it."""
        key = (type_, data)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
        if hit is not None:
            out: list[Any] = []
            rebuild(hit[0], marshal.loads(hit[1]), out, _never)
            return out
        items = decode()
        self._remember(key, items)
        return items

    def _remember(self, key: tuple[str, bytes], items: list[Any]) -> None:
        kinds: list[Any] = []
        flat: list[Any] = []
        for i, item in enumerate(items):
            kind, state = state_of(item, i)
            if kind is RAW:
                return
            kinds.append(kind)
            flat.extend(state)
        try:
            blob = marshal.dumps(flat, MARSHAL_VERSION)
        except ValueError:  # nested deeper than marshal allows
            return
        size = len(blob) + len(key[1])
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (kinds, blob)
            self._size += size
            while self._size > self.max_bytes:
                (_, data), (_, old) = self._entries.popitem(last=False)
                self._size -= len(old) + len(data)


def _never(index: int) -> Any:
    raise AssertionError("a cached page holds no RAW item")
