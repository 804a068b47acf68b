"""``RemainingSteps`` and ``IsLastStep``: how close the run is to its recursion limit."""

from __future__ import annotations

from typing import Annotated

from waypoint.managed.base import ManagedValue, StepInfo

__all__ = ("IsLastStep", "IsLastStepManager", "RemainingSteps", "RemainingStepsManager")


class IsLastStepManager(ManagedValue[bool]):
    @staticmethod
    def get(scratchpad: StepInfo) -> bool:
        return scratchpad.step == scratchpad.stop - 1


class RemainingStepsManager(ManagedValue[int]):
    @staticmethod
    def get(scratchpad: StepInfo) -> int:
        return scratchpad.stop - scratchpad.step


IsLastStep = Annotated[bool, IsLastStepManager]
"""True while the run executes its last step before the recursion limit would be hit."""

RemainingSteps = Annotated[int, RemainingStepsManager]
"""Steps left before the recursion limit (the current one included)."""
