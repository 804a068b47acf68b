"""LastValue: keeps the last value written; at most one write per step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typing_extensions import Self

from waypoint.channels.base import MISSING, SingleValueChannel
from waypoint.errors import EmptyChannelError, InvalidUpdateError


class LastValue(SingleValueChannel[Any, Any]):
    """Stores the last value written; two writes in one step raise InvalidUpdateError."""

    __slots__ = ()

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


class AnyValue(LastValue):
    """Like LastValue but accepts several writes per step (assumed equal); keeps the last."""

    __slots__ = ()

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        self.value = values[-1]
        return True


class LastValueAfterFinish(SingleValueChannel[Any, Any]):
    """Keeps the last value written, but makes it available only once the run is about to
    finish (``finish()``); consuming it clears it. The trigger of a deferred node."""

    __slots__ = ("finished",)

    def __init__(self, typ: Any = Any, key: str = "") -> None:
        super().__init__(typ, key)
        self.value: Any = MISSING
        self.finished = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LastValueAfterFinish)

    def checkpoint(self) -> Any:
        return MISSING if self.value is MISSING else (self.value, self.finished)

    def from_checkpoint(self, checkpoint: Any) -> Self:
        ch = self.__class__(self.typ, self.key)
        if checkpoint is not MISSING and checkpoint is not None:
            ch.value, ch.finished = checkpoint
        return ch

    def copy(self) -> Self:
        ch = self.__class__(self.typ, self.key)
        ch.value, ch.finished = self.value, self.finished
        return ch

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        self.finished = False
        self.value = values[-1]
        return True

    def consume(self) -> bool:
        if self.finished:
            self.finished = False
            self.value = MISSING
            return True
        return False

    def finish(self) -> bool:
        if not self.finished and self.value is not MISSING:
            self.finished = True
            return True
        return False

    def get(self) -> Any:
        if self.value is MISSING or not self.finished:
            raise EmptyChannelError(self.key)
        return self.value

    def is_available(self) -> bool:
        return self.finished and self.value is not MISSING
