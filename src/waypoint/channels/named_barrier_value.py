"""NamedBarrierValue: available once every named writer has written (fan-in)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typing_extensions import Self

from waypoint.channels.base import MISSING, BaseChannel
from waypoint.errors import EmptyChannelError, InvalidUpdateError


class NamedBarrierValue(BaseChannel[None, str]):
    """Waits until each of ``names`` has been written (in any steps); reset when consumed."""

    __slots__ = ("names", "seen")

    def __init__(self, typ: Any = str, names: Sequence[str] | set[str] = (), key: str = "") -> None:
        super().__init__(typ, key)
        self.names = frozenset(names)
        self.seen: frozenset[str] = frozenset()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NamedBarrierValue) and other.names == self.names

    def from_checkpoint(self, checkpoint: Any) -> Self:
        ch = self.__class__(self.typ, self.names, self.key)
        if checkpoint is not MISSING and checkpoint is not None:
            ch.seen = frozenset(checkpoint)
        return ch

    def copy(self) -> Self:
        ch = self.__class__(self.typ, self.names, self.key)
        ch.seen = self.seen
        return ch

    def checkpoint(self) -> Any:
        return set(self.seen) if self.seen else MISSING

    def update(self, values: Sequence[str]) -> bool:
        new = self.seen
        for v in values:
            if v not in self.names:
                raise InvalidUpdateError(
                    f"At key '{self.key}': {v!r} is not one of the nodes this join waits for "
                    f"({sorted(self.names)})"
                )
            if v not in new:
                new = new | {v}
        if new is self.seen:
            return False
        self.seen = new
        return True

    def get(self) -> None:
        if self.seen != self.names:
            raise EmptyChannelError(self.key)
        return None

    def is_available(self) -> bool:
        return self.seen == self.names

    def consume(self) -> bool:
        if self.seen == self.names:
            self.seen = frozenset()
            return True
        return False


class NamedBarrierValueAfterFinish(NamedBarrierValue):
    """A fan-in barrier into a deferred node: once every named writer has written, it waits
    for the run to be about to finish (``finish()``) before it becomes available."""

    __slots__ = ("finished",)

    def __init__(self, typ: Any = str, names: Sequence[str] | set[str] = (), key: str = "") -> None:
        super().__init__(typ, names, key)
        self.finished = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NamedBarrierValueAfterFinish) and other.names == self.names

    def from_checkpoint(self, checkpoint: Any) -> Self:
        ch = self.__class__(self.typ, self.names, self.key)
        if checkpoint is not MISSING and checkpoint is not None:
            seen, ch.finished = checkpoint
            ch.seen = frozenset(seen)
        return ch

    def copy(self) -> Self:
        ch = self.__class__(self.typ, self.names, self.key)
        ch.seen, ch.finished = self.seen, self.finished
        return ch

    def checkpoint(self) -> Any:
        return (set(self.seen), self.finished) if self.seen or self.finished else MISSING

    def get(self) -> None:
        if not self.finished or self.seen != self.names:
            raise EmptyChannelError(self.key)
        return None

    def is_available(self) -> bool:
        return self.finished and self.seen == self.names

    def consume(self) -> bool:
        if self.finished and self.seen == self.names:
            self.finished = False
            self.seen = frozenset()
            return True
        return False

    def finish(self) -> bool:
        if not self.finished and self.seen == self.names:
            self.finished = True
            return True
        return False
