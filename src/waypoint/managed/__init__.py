"""Managed state keys: values the engine computes for each step instead of storing.

Annotate a state key with ``RemainingSteps`` or ``IsLastStep`` and every node (and routing
function) reading the state sees it; it is never written to a checkpoint, never part of the
graph's output, and a node's writes to it are ignored.
"""

from waypoint.managed.is_last_step import IsLastStep, RemainingSteps

__all__ = ("IsLastStep", "RemainingSteps")
