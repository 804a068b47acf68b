"""Names custom savers and serializers import from ``langgraph.checkpoint.serde.types``: the
special write channels and the protocols of a channel and of a ``Send``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from typing_extensions import Self

from waypoint.checkpoint.base import ERROR, INTERRUPT, RESUME, SCHEDULED
from waypoint.pregel.constants import TASKS

Value = TypeVar("Value", covariant=True)
Update = TypeVar("Update", contravariant=True)
C = TypeVar("C")


class ChannelProtocol(Protocol[Value, Update, C]):
    """What a saver may call on a channel: read its value, restore it, apply updates."""

    @property
    def ValueType(self) -> Any: ...

    @property
    def UpdateType(self) -> Any: ...

    def checkpoint(self) -> C | None: ...

    def from_checkpoint(self, checkpoint: C | None) -> Self: ...

    def update(self, values: Sequence[Update]) -> bool: ...

    def get(self) -> Value: ...

    def consume(self) -> bool: ...


@runtime_checkable
class SendProtocol(Protocol):
    """A packet for a node (``waypoint.types.Send``): ``node`` and its ``arg``. (LangGraph's
    protocol also lists ``__hash__``; waypoint's Send is a mutable dataclass, unhashable.)"""

    node: str
    arg: Any

    def __repr__(self) -> str: ...

    def __eq__(self, value: object) -> bool: ...


__all__ = [
    "ERROR",
    "INTERRUPT",
    "RESUME",
    "SCHEDULED",
    "TASKS",
    "ChannelProtocol",
    "SendProtocol",
]
