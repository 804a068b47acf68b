"""LastValue: keeps the last value written; at most one write per step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typing_extensions import Self

from waypoint.channels.base import MISSING, BaseChannel
from waypoint.errors import EmptyChannelError, InvalidUpdateError


class LastValue(BaseChannel[Any, Any]):
    """Stores the last value written; two writes in one step raise InvalidUpdateError."""

    __slots__ = ("value",)

    def __init__(self, typ: Any = Any, key: str = "") -> None:
        super().__init__(typ, key)
        self.value: Any = MISSING

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LastValue)

    def from_checkpoint(self, checkpoint: Any) -> Self:
        ch = self.__class__(self.typ, self.key)
        ch.value = checkpoint
        return ch

    def copy(self) -> Self:
        ch = self.__class__(self.typ, self.key)
        ch.value = self.value
        return ch

    def checkpoint(self) -> Any:
        return self.value

    def update(self, values: Sequence[Any]) -> bool:
        if len(values) != 1:
            if not values:
                return False
            raise InvalidUpdateError(
                f"At key '{self.key}': received {len(values)} values in one step, but it "
                "can receive only one value per step. Declare the key with a reducer, e.g. "
                f"Annotated[list, operator.add], to accept several writes per step."
            )
        self.value = values[0]
        return True

    def get(self) -> Any:
        if self.value is MISSING:
            raise EmptyChannelError(self.key)
        return self.value

    def is_available(self) -> bool:
        return self.value is not MISSING


class AnyValue(LastValue):
    """Like LastValue but accepts several writes per step (assumed equal); keeps the last."""

    __slots__ = ()

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        self.value = values[-1]
        return True
