"""LangGraph's ``langgraph.constants`` import path: ``START``, ``END`` and the public keys and
tags LangGraph programs use."""

from waypoint._langchain import TAG_HIDDEN, TAG_NOSTREAM
from waypoint.pregel.constants import CONF, END, START, TASKS

__all__ = ["CONF", "END", "START", "TAG_HIDDEN", "TAG_NOSTREAM", "TASKS"]
