"""UntrackedValue: a value nodes share during a run that is never written to a checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typing_extensions import Self

from waypoint.channels.base import MISSING, SingleValueChannel
from waypoint.errors import InvalidUpdateError


class UntrackedValue(SingleValueChannel[Any, Any]):
    """Keeps the last value written for the rest of the run (nodes read it, it is in the
    ``values`` stream and the output), but checkpoints leave it out: ``get_state`` and a
    resumed run do not see it. With ``guard=True`` (the default) one write per step."""

    __slots__ = ("guard",)

    def __init__(self, typ: Any = Any, guard: bool = True, key: str = "") -> None:
        super().__init__(typ, key)
        self.guard = guard
        self.value: Any = MISSING

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UntrackedValue) and other.guard == self.guard

    def from_checkpoint(self, checkpoint: Any) -> Self:
        return self.__class__(self.typ, self.guard, self.key)  # nothing is ever restored

    def copy(self) -> Self:
        ch = self.__class__(self.typ, self.guard, self.key)
        ch.value = self.value
        return ch

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        if len(values) != 1 and self.guard:
            raise InvalidUpdateError(
                f"At key '{self.key}': UntrackedValue(guard=True) can receive only one value "
                "per step; use UntrackedValue(guard=False) to keep any one of several writes"
            )
        self.value = values[-1]
        return True
