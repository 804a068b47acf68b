"""DeltaChannel: LangGraph's beta reducer channel whose reducer takes a whole step's writes.

``Annotated[list, DeltaChannel(reducer)]`` declares a field whose value is
``reducer(current, [write, ...])`` once per step (the value starts as the type's empty value,
e.g. ``[]``). LangGraph's version exists to avoid storing the whole list at every
checkpoint: it stores writes and replays them, with a full snapshot every
``snapshot_frequency`` updates. Waypoint's savers already store list values as append-only item
logs (each item once, no snapshots), so the channel is a reducer channel like
``BinaryOperatorAggregate`` and ``snapshot_frequency`` is only validated: there is no snapshot
to schedule. As in LangGraph the reducer must be batching-invariant,
``reducer(reducer(s, xs), ys) == reducer(s, xs + ys)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from typing_extensions import Self

from waypoint.channels.base import MISSING
from waypoint.channels.binop import BinaryOperatorAggregate, _initial, shared_prefix
from waypoint.errors import InvalidGraphError


class DeltaChannel(BinaryOperatorAggregate):
    """Stores ``reducer(current, writes_of_the_step)``; an ``Overwrite`` replaces the value."""

    __slots__ = ("snapshot_frequency",)

    def __init__(
        self,
        reducer: Callable[[Any, Sequence[Any]], Any],
        typ: Any = None,
        *,
        snapshot_frequency: int = 100,
    ) -> None:
        if not isinstance(snapshot_frequency, int) or isinstance(snapshot_frequency, bool) or (
            snapshot_frequency <= 0
        ):
            raise InvalidGraphError(
                f"DeltaChannel snapshot_frequency must be a positive int, got {snapshot_frequency!r}"
            )
        if not callable(reducer):
            raise InvalidGraphError(f"DeltaChannel needs a reducer function, got {reducer!r}")
        super().__init__(list if typ is None else typ, reducer)
        self._with_prefix = None  # the reducer takes a batch: no per-write fast path
        self.snapshot_frequency = snapshot_frequency

    @property
    def reducer(self) -> Callable[[Any, Sequence[Any]], Any]:
        return self.operator

    def for_field(self, key: str, typ: Any) -> DeltaChannel:
        """A fresh channel for state key ``key`` declared with type ``typ``."""
        ch = DeltaChannel(self.operator, typ, snapshot_frequency=self.snapshot_frequency)
        ch.key = key
        return ch

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeltaChannel) and other.operator is self.operator

    def _new(self) -> Self:
        ch = super()._new()
        ch.snapshot_frequency = self.snapshot_frequency
        return ch

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        overwrites = self._step_overwrites(values)
        cur = self.value
        if overwrites:
            new = overwrites[0][1]
        else:
            base = _initial(self.typ) if cur is MISSING else cur
            new = self.operator(None if base is MISSING else base, list(values))
        old_len = len(cur) if type(cur) is list else 0
        self.log_prefix = min(self.log_prefix, shared_prefix(cur, new, old_len))
        self.value = new
        return True


__all__ = ["DeltaChannel"]
