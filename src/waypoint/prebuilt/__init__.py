"""Prebuilt agents and tool nodes, as LangGraph's ``langgraph.prebuilt``: ``ToolNode``,
``tools_condition``, ``ValidationNode``, ``create_react_agent``, and the markers a tool uses to
receive graph data (``InjectedState``, ``InjectedStore``, ``ToolRuntime``; LangChain's
``InjectedToolCallId`` is re-exported). Needs ``langchain-core``: ``pip install
'waypoint-graph[prebuilt]'``.
"""

from waypoint._langchain import require

require("waypoint.prebuilt")

from waypoint.prebuilt.chat_agent_executor import AgentState, create_react_agent  # noqa: E402
from waypoint.prebuilt.tool_node import (  # noqa: E402
    InjectedState,
    InjectedStore,
    InjectedToolCallId,
    ToolNode,
    ToolRuntime,
    tools_condition,
)
from waypoint.prebuilt.tool_validator import ValidationNode  # noqa: E402

__all__ = [
    "AgentState",
    "InjectedState",
    "InjectedStore",
    "InjectedToolCallId",
    "ToolNode",
    "ToolRuntime",
    "ValidationNode",
    "create_react_agent",
    "tools_condition",
]
