"""waypoint: stateful agent and workflow graphs whose persistence is the product."""

__version__ = "0.1.0"
