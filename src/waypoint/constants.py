"""LangGraph's ``langgraph.constants`` import path: ``START`` and ``END``."""

from waypoint.pregel.constants import END, START

__all__ = ["END", "START"]
