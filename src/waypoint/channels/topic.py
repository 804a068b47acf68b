"""Topic: a pub/sub list of values, cleared each step unless ``accumulate``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typing_extensions import Self

from waypoint.channels.base import MISSING, BaseChannel
from waypoint.errors import EmptyChannelError


class Topic(BaseChannel[list, Any]):
    """Collects every value written in a step (lists are flattened one level)."""

    __slots__ = ("values", "accumulate")

    def __init__(self, typ: Any = Any, accumulate: bool = False, key: str = "") -> None:
        super().__init__(typ, key)
        self.accumulate = accumulate
        self.values: list[Any] = []

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Topic) and other.accumulate == self.accumulate

    def from_checkpoint(self, checkpoint: Any) -> Self:
        ch = self.__class__(self.typ, self.accumulate, self.key)
        if checkpoint is not MISSING and checkpoint is not None:
            ch.values = list(checkpoint)
        return ch

    def copy(self) -> Self:
        return self.from_checkpoint(self.values)

    def checkpoint(self) -> Any:
        return self.values if self.values else MISSING

    def update(self, values: Sequence[Any]) -> bool:
        had = bool(self.values)
        new: list[Any] = list(self.values) if self.accumulate else []
        for v in values:
            if isinstance(v, list):
                new.extend(v)
            else:
                new.append(v)
        self.values = new
        return bool(values) or (had and not self.accumulate)

    def get(self) -> list[Any]:
        if not self.values:
            raise EmptyChannelError(self.key)
        return list(self.values)

    def is_available(self) -> bool:
        return bool(self.values)
