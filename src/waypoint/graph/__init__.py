"""Build stateful graphs: ``StateGraph``, ``START``/``END``, ``MessagesState``, ``add_messages``."""

from waypoint.graph.message import MessagesState, add_messages
from waypoint.graph.state import CompiledStateGraph, MessageGraph, StateGraph
from waypoint.pregel.constants import END, START

__all__ = ["END", "START", "CompiledStateGraph", "MessageGraph", "MessagesState", "StateGraph", "add_messages"]
