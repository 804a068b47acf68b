"""``ManagedValue``: the base of values the engine fills into state keys each step."""

from __future__ import annotations

from abc import ABC, abstractmethod
from inspect import isclass
from typing import Any, Generic, NamedTuple, TypeVar

V = TypeVar("V")

__all__ = ("ManagedValue", "ManagedValueMapping", "ManagedValueSpec", "StepInfo", "is_managed_value")


class StepInfo(NamedTuple):
    """What a managed value is computed from: the step about to run and the step at which
    the run stops (``recursion_limit`` steps after it started)."""

    step: int
    stop: int


class ManagedValue(ABC, Generic[V]):
    """A state key's value computed by the engine; subclasses implement ``get``."""

    @staticmethod
    @abstractmethod
    def get(scratchpad: StepInfo) -> V:
        """The value for the step described by ``scratchpad``."""


ManagedValueSpec = type[ManagedValue]
ManagedValueMapping = dict[str, ManagedValueSpec]


def is_managed_value(value: Any) -> bool:
    return isclass(value) and issubclass(value, ManagedValue)
