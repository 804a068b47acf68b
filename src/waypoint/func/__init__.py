"""The functional API: ``@entrypoint`` workflows calling ``@task`` functions.

A LangGraph program using ``langgraph.func`` ports by importing from ``waypoint.func``.
"""

from waypoint.func.entrypoints import entrypoint
from waypoint.func.tasks import task

__all__ = ("entrypoint", "task")
