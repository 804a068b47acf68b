"""EphemeralValue: a value visible for the one step after it was written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typing_extensions import Self

from waypoint.channels.base import MISSING, SingleValueChannel
from waypoint.errors import InvalidUpdateError


class EphemeralValue(SingleValueChannel[Any, Any]):
    """Holds the last step's write; cleared by a step that does not write it."""

    __slots__ = ("guard",)

    def __init__(self, typ: Any = Any, guard: bool = True, key: str = "") -> None:
        super().__init__(typ, key)
        self.guard = guard
        self.value: Any = MISSING

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EphemeralValue) and other.guard == self.guard

    def from_checkpoint(self, checkpoint: Any) -> Self:
        ch = self.__class__(self.typ, self.guard, self.key)
        ch.value = checkpoint
        return ch

    def copy(self) -> Self:
        return self.from_checkpoint(self.value)

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            if self.value is MISSING:
                return False
            self.value = MISSING
            return True
        if len(values) != 1 and self.guard:
            raise InvalidUpdateError(
                f"At key '{self.key}': can receive only one value per step, got {len(values)}"
            )
        self.value = values[-1]
        return True
