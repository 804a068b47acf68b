"""BinaryOperatorAggregate: folds every write into the value with a reducer.

When the value is a list the channel also tracks how many leading items are unchanged since
the last checkpoint was handed to a saver (``log_prefix``), so savers can store list values as
append-only item logs instead of whole copies.
"""

from __future__ import annotations

import collections.abc
import operator
from collections.abc import Callable, Sequence
from typing import Any, get_origin

from typing_extensions import Self

from waypoint.channels.base import MISSING, SingleValueChannel
from waypoint.errors import InvalidUpdateError
from waypoint.types import Overwrite

OVERWRITE = "__overwrite__"


def overwrite_value(value: Any) -> tuple[bool, Any]:
    """``(True, v)`` when ``value`` is an Overwrite of ``v``: the dataclass, the dict
    ``{"__overwrite__": v}``, or ``{"type": "__overwrite__", "value": v}`` (an Overwrite
    after a JSON round trip, as LangGraph's API server sends it)."""
    if isinstance(value, Overwrite):
        return True, value.value
    if type(value) is dict:
        if len(value) == 1 and OVERWRITE in value:
            return True, value[OVERWRITE]
        if value.get("type") == OVERWRITE and "value" in value:
            return True, value["value"]
    return False, None

PrefixReducer = Callable[[Any, Any], tuple[Any, int]]
_PREFIX_REDUCERS: dict[Any, PrefixReducer] = {}


def register_log_reducer(reducer: Callable[[Any, Any], Any], with_prefix: PrefixReducer) -> None:
    """Declare that ``with_prefix(old, update)`` returns ``(reducer(old, update), n)`` where the
    first ``n`` items of the result are the very objects at the same positions of ``old``."""
    _PREFIX_REDUCERS[reducer] = with_prefix


def _add_with_prefix(old: Any, update: Any) -> tuple[Any, int]:
    result = old + update
    return result, (len(old) if type(old) is list and type(result) is list else 0)


register_log_reducer(operator.add, _add_with_prefix)
register_log_reducer(operator.iadd, _add_with_prefix)


def shared_prefix(old: Any, new: Any, old_len: int) -> int:
    """How many leading items ``new`` shares (by identity) with ``old``."""
    if new is old:
        return old_len  # mutated in place: only appends can be assumed
    if type(old) is not list or type(new) is not list:
        return 0
    if old_len <= len(new) and all(map(operator.is_, old, new)):
        return old_len
    for i, (a, b) in enumerate(zip(old, new)):
        if a is not b:
            return i
    return min(old_len, len(new))


def _initial(typ: Any) -> Any:
    base = get_origin(typ) or typ
    if base in (collections.abc.Sequence, collections.abc.MutableSequence):
        base = list
    elif base in (collections.abc.Set, collections.abc.MutableSet):
        base = set
    elif base in (collections.abc.Mapping, collections.abc.MutableMapping):
        base = dict
    try:
        return base()
    except Exception:
        return MISSING


class BinaryOperatorAggregate(SingleValueChannel[Any, Any]):
    """Stores ``operator(current, write)`` folded over each step's writes."""

    __slots__ = ("operator", "_with_prefix", "log_prefix")

    def __init__(self, typ: Any, operator: Callable[[Any, Any], Any], key: str = "") -> None:
        super().__init__(typ, key)
        self.operator = operator
        self._with_prefix = _PREFIX_REDUCERS.get(operator)
        self.value: Any = _initial(typ)
        self.log_prefix = 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BinaryOperatorAggregate) and other.operator is self.operator

    def _new(self) -> Self:
        ch = object.__new__(self.__class__)
        ch.typ, ch.key, ch.operator = self.typ, self.key, self.operator
        ch._with_prefix = self._with_prefix
        return ch

    def from_checkpoint(self, checkpoint: Any) -> Self:
        ch = self._new()
        if checkpoint is MISSING:
            ch.value = _initial(self.typ)
        else:
            # never alias a list a saver may share with its own storage
            ch.value = list(checkpoint) if type(checkpoint) is list else checkpoint
        ch.mark_log()
        return ch

    def copy(self) -> Self:
        ch = self._new()
        ch.value = self.value
        ch.log_prefix = self.log_prefix
        return ch

    def mark_log(self) -> None:
        """The current value was handed to a saver: later prefixes are relative to it."""
        v = self.value
        self.log_prefix = len(v) if type(v) is list else 0

    def _step_overwrites(self, values: Sequence[Any]) -> list[tuple[bool, Any]]:
        """The step's Overwrite writes (at most one: more is an InvalidUpdateError)."""
        overwrites = [w for w in map(overwrite_value, values) if w[0]]
        if len(overwrites) > 1:
            raise InvalidUpdateError(
                f"At key '{self.key}': received {len(overwrites)} Overwrite values in one step; "
                "a channel accepts at most one Overwrite per step"
            )
        return overwrites

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        overwrites = self._step_overwrites(values)
        if overwrites:  # the step's one Overwrite replaces the value; other writes are moot
            values = [Overwrite(overwrites[0][1])]
        cur = self.value
        prefix = self.log_prefix
        start = 0
        if cur is MISSING:
            cur = values[0].value if isinstance(values[0], Overwrite) else values[0]
            prefix, start = 0, 1
        with_prefix, op = self._with_prefix, self.operator
        for v in values[start:]:
            if isinstance(v, Overwrite):
                new = v.value
                p = shared_prefix(cur, new, len(cur) if type(cur) is list else 0)
            elif with_prefix is not None:
                new, p = with_prefix(cur, v)
            else:
                n = len(cur) if type(cur) is list else 0
                new = op(cur, v)
                p = shared_prefix(cur, new, n)
            if p < prefix:
                prefix = p
            cur = new
        self.value = cur
        self.log_prefix = prefix
        return True
