"""The superstep engine that runs compiled graphs."""

from waypoint.pregel.main import Pregel
from waypoint.pregel.node import PregelNode

__all__ = ["Pregel", "PregelNode"]
