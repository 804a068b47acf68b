"""The channel interface: a named slot the engine reads and writes once per superstep."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from typing_extensions import Self

from waypoint.errors import EmptyChannelError

Value = TypeVar("Value")
Update = TypeVar("Update")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()
"""Marks an empty channel (distinct from a channel holding ``None``)."""


class BaseChannel(Generic[Value, Update], ABC):
    """A channel holds one value; ``update`` applies all writes of a step at once."""

    __slots__ = ("typ", "key")

    def __init__(self, typ: Any, key: str = "") -> None:
        self.typ = typ
        self.key = key

    @property
    def ValueType(self) -> Any:
        return self.typ

    @property
    def UpdateType(self) -> Any:
        return self.typ

    def copy(self) -> Self:
        """An independent channel with the same value."""
        return self.from_checkpoint(self.checkpoint())

    def checkpoint(self) -> Any:
        """The value to store in a checkpoint, or MISSING when empty."""
        try:
            return self.get()
        except EmptyChannelError:
            return MISSING

    @abstractmethod
    def from_checkpoint(self, checkpoint: Any) -> Self:
        """A new channel of this kind restored from a stored value (MISSING: empty)."""

    @abstractmethod
    def get(self) -> Value:
        """The current value; EmptyChannelError when empty."""

    def is_available(self) -> bool:
        try:
            self.get()
            return True
        except EmptyChannelError:
            return False

    @abstractmethod
    def update(self, values: Sequence[Update]) -> bool:
        """Apply a step's writes (possibly none); True when the value changed."""

    def consume(self) -> bool:
        """Called after a node triggered by this channel ran; True when the value changed."""
        return False

    def finish(self) -> bool:
        """Called when the run is about to end; True when the value changed."""
        return False


class SingleValueChannel(BaseChannel[Value, Update]):
    """Base of the channels that hold their state in one ``value`` slot (MISSING: empty)."""

    __slots__ = ("value",)

    value: Any

    def checkpoint(self) -> Any:
        return self.value

    def get(self) -> Any:
        if self.value is MISSING:
            raise EmptyChannelError(self.key)
        return self.value

    def is_available(self) -> bool:
        return self.value is not MISSING
