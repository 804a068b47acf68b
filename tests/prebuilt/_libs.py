"""The same names from LangGraph and from waypoint, so each side-by-side test is written once."""

from __future__ import annotations

import importlib
import warnings
from types import SimpleNamespace
from typing import Any

from langchain_core.messages import BaseMessage

_NAMES = {
    "prebuilt": ["ToolNode", "InjectedState", "InjectedStore", "ToolRuntime", "tools_condition",
                 "ValidationNode", "create_react_agent"],
    "types": ["Command", "Send", "interrupt"],
    "graph": ["StateGraph", "START", "END", "MessagesState"],
    "store.memory": ["InMemoryStore"],
    "checkpoint.memory": ["InMemorySaver"],
}


def lib(name: str) -> SimpleNamespace:
    """``langgraph`` or ``waypoint``'s classes under one set of names."""
    ns = SimpleNamespace(name=name)
    for module, names in _NAMES.items():
        mod = importlib.import_module(f"{name}.{module}")
        for n in names:
            setattr(ns, n, getattr(mod, n))
    create = ns.create_react_agent

    def create_react_agent(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():  # LangGraph's points users at langchain.agents
            warnings.simplefilter("ignore")
            return create(*args, **kwargs)

    ns.create_react_agent = create_react_agent
    return ns


def show(value: Any) -> Any:
    """Messages as comparable tuples (ids left out: they are random), recursively."""
    if isinstance(value, BaseMessage):
        return (type(value).__name__, value.content, getattr(value, "name", None),
                getattr(value, "tool_call_id", None), getattr(value, "status", None),
                [(c["name"], c["args"], c["id"]) for c in getattr(value, "tool_calls", [])])
    if isinstance(value, dict):
        return {k: show(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [show(v) for v in value]
    if type(value).__name__ == "Command":
        return ("Command", value.graph, show(value.update), value.goto)
    return value
