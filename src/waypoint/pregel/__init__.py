"""The superstep engine that runs compiled graphs, and its low-level API (``Pregel`` made
directly from ``NodeBuilder`` nodes and channels)."""

from waypoint.pregel.builder import NodeBuilder
from waypoint.pregel.main import Pregel
from waypoint.pregel.node import PregelNode

__all__ = ["NodeBuilder", "Pregel", "PregelNode"]
