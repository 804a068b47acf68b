"""What a tool receives from the graph rather than from the model: ``InjectedState``,
``InjectedStore`` and ``ToolRuntime`` (LangGraph 1.x), found once per tool by reading its
annotations, and filled in right before each call.

Arguments marked this way are hidden from the model's tool schema by LangChain (they are
``InjectedToolArg``s); values the model sends for them anyway are dropped, so a model cannot
forge the state or the store a tool sees. LangChain's own ``InjectedToolCallId`` is filled in
by LangChain itself, since ``ToolNode`` calls tools with the whole tool call.
"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass, field
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin, get_type_hints

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolArg
from langchain_core.tools.base import (
    _DirectlyInjectedToolArg,
    _is_injected_arg_type,
    get_all_basemodel_annotations,
)

from waypoint.errors import ToolInjectionError
from waypoint.runtime import ExecutionInfo, ServerInfo
from waypoint.store.base import BaseStore

ContextT = TypeVar("ContextT")
StateT = TypeVar("StateT")


class InjectedState(InjectedToolArg):
    """Marks a tool argument filled with the graph state (``Annotated[dict, InjectedState]``)
    or with one of its keys (``Annotated[list, InjectedState("messages")]``)."""

    def __init__(self, field: str | None = None) -> None:
        self.field = field


class InjectedStore(InjectedToolArg):
    """Marks a tool argument filled with the graph's store (``compile(store=...)``)."""


@dataclass
class ToolRuntime(_DirectlyInjectedToolArg, Generic[ContextT, StateT]):
    """Everything a tool may use besides its arguments, given to a parameter typed
    ``ToolRuntime`` (or named ``runtime``): the graph ``state``, the run's ``context``, the
    ``config``, the ``custom`` stream's ``stream_writer``, this ``tool_call_id``, the
    ``store``, the node's ``tools`` and its ``execution_info``."""

    state: StateT
    context: ContextT
    config: RunnableConfig
    stream_writer: Any
    tool_call_id: str | None
    store: BaseStore | None
    tools: list[BaseTool] = field(default_factory=list)
    execution_info: ExecutionInfo | None = None
    server_info: ServerInfo | None = None


# LangGraph's own marker classes (``langgraph.prebuilt`` or ``langchain.tools``) mean the same:
# a tool written against them keeps working here. Matched by class name, never imported.
_NAMES = {InjectedState: "InjectedState", InjectedStore: "InjectedStore", ToolRuntime: "ToolRuntime"}


def _is(obj: Any, kind: type) -> bool:
    cls = obj if isinstance(obj, type) else type(obj)
    return any(k is kind or (k.__name__ == _NAMES[kind] and k.__module__.startswith(("langgraph", "langchain")))
               for k in getattr(cls, "__mro__", ()))


def _marker(hint: Any, kind: type) -> Any:
    """The ``kind`` marker in an annotation (an instance, or True for a bare class), or None."""
    if _is(hint, kind):
        return True if isinstance(hint, type) else hint
    origin = get_origin(hint)
    if origin is not None and isinstance(origin, type) and _is(origin, kind):
        return True
    if origin in (Annotated, Union, UnionType):
        found = [m for a in get_args(hint) if (m := _marker(a, kind)) is not None]
        if len(found) > 1:
            raise ToolInjectionError(f"An argument is marked {kind.__name__} more than once: {hint!r}")
        return found[0] if found else None
    return None


@dataclass
class Injections:
    """Which arguments of one tool the node fills: ``state`` maps argument -> state key (None:
    the whole state), ``store`` and ``runtime`` name an argument, ``hidden`` is every injected
    argument (values the model sent for them are dropped), ``optional`` state arguments may be
    missing from the state."""

    state: dict[str, str | None]
    store: str | None
    runtime: str | None
    hidden: set[str]
    optional: set[str]

    def __bool__(self) -> bool:
        return bool(self.state or self.store or self.runtime or self.hidden)


def injections_of(tool: BaseTool) -> Injections:
    """Read a tool's annotations (its args schema and its function's signature)."""
    schema = tool.get_input_schema()
    hints: dict[str, Any] = {}
    func = getattr(tool, "func", None) or getattr(tool, "coroutine", None)
    if func is not None:
        try:
            hints = get_type_hints(func, include_extras=True)
        except Exception:
            hints = {}
    hints = {**hints, **get_all_basemodel_annotations(schema)}
    out = Injections({}, None, None, set(), set())
    for name, hint in hints.items():
        if name == "return":
            continue
        if _is_injected_arg_type(hint) or _marker(hint, InjectedState) or _marker(hint, InjectedStore):
            out.hidden.add(name)
        if name == "runtime" or _marker(hint, ToolRuntime) is not None:
            out.runtime = name
            out.hidden.add(name)
        if (state := _marker(hint, InjectedState)) is not None:
            key = getattr(state, "field", None) if state is not True else None
            out.state[name] = key
            fields = getattr(schema, "model_fields", {})
            if key and name in fields and not fields[name].is_required():
                out.optional.add(name)
        if _marker(hint, InjectedStore) is not None:
            out.store = name
    return out


def inject(call: dict[str, Any], inj: Injections, rt: ToolRuntime, messages_key: str) -> dict[str, Any]:
    """A copy of ``call`` whose args carry the injected values (and nothing the model sent
    for injected arguments)."""
    if not inj:
        return call
    values: dict[str, Any] = {}
    if inj.state:
        state = rt.state
        if isinstance(state, list):  # a list of messages: the state is its messages key
            keys = list(inj.state.values())
            if not all(k in (None, messages_key) for k in keys):
                wanted = ", ".join(k for k in keys if k)
                raise ToolInjectionError(
                    f"Tool {call['name']!r} reads state keys ({wanted}) but the tool node was "
                    f"given a list of messages: give it the graph state (a dict with those keys)"
                )
            state = {messages_key: state}
        for arg, key in inj.state.items():
            if key is None:
                values[arg] = state
            elif isinstance(state, dict) and key in state:
                values[arg] = state[key]
            elif not isinstance(state, dict) and hasattr(state, key):
                values[arg] = getattr(state, key)
            elif arg not in inj.optional:
                raise ToolInjectionError(
                    f"Tool {call['name']!r} reads state key {key!r} (argument {arg!r}), which "
                    f"the state does not have; add it to the state schema or make the argument "
                    f"optional"
                )
    if inj.store:
        if rt.store is None:
            raise ToolInjectionError(
                f"Tool {call['name']!r} needs the store (argument {inj.store!r}): compile the "
                f"graph with store=... (create_react_agent(..., store=...))"
            )
        values[inj.store] = rt.store
    if inj.runtime:
        values[inj.runtime] = rt
    new = copy(call)
    new["args"] = {**{k: v for k, v in call["args"].items() if k not in inj.hidden}, **values}
    return new
