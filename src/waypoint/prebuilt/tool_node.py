"""``ToolNode``: runs the tool calls of the last AI message, in parallel, as a graph node.

Input: a state with a ``messages`` key (or another ``messages_key``), a list of messages, a
list of tool calls, or one tool call with its state (what ``create_react_agent`` sends to each
tool task with ``version="v2"``). Output: ``{"messages": [ToolMessage, ...]}`` for a state,
a list of ToolMessages for a list; when a tool returns a ``Command``, a list mixing those
Commands with the plain updates (the graph applies them all).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass, replace
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from langchain_core.messages import AIMessage, RemoveMessage, ToolCall, ToolMessage, convert_to_messages
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_config_list, get_executor_for_config
from langchain_core.tools import BaseTool, InjectedToolCallId, ToolException
from langchain_core.tools import tool as as_tool
from langchain_core.tools.base import TOOL_MESSAGE_BLOCK_TYPES
from pydantic import ValidationError

from waypoint._langchain import lc
from waypoint.config import var_task
from waypoint.errors import AgentConfigError, GraphBubbleUp, ToolNodeInputError, ToolResultError, is_invalid_resume
from waypoint.graph.message import REMOVE_ALL_MESSAGES
from waypoint.prebuilt._injection import InjectedState, InjectedStore, Injections, ToolRuntime, inject, injections_of
from waypoint.prebuilt._node import RunnableNode
from waypoint.runtime import Runtime
from waypoint.types import Command, Send

__all__ = [
    "InjectedState",
    "InjectedStore",
    "InjectedToolCallId",
    "ToolCallRequest",
    "ToolInvocationError",
    "ToolNode",
    "ToolRuntime",
    "msg_content_output",
    "tools_condition",
]

lc()  # LangChain is in: waypoint's Command becomes a tool output LangChain passes through

InputKind = Literal["list", "dict", "tool_calls"]

# What the model reads back after a failed call (the same text LangGraph's ToolNode writes, so
# prompts and tests tuned on it keep working).
_UNKNOWN_TOOL = "Error: {name} is not a valid tool, try one of [{names}]."
_CAUGHT = "Error: {error!r}\n Please fix your mistakes."
_BAD_ARGS = ("Error invoking tool '{name}' with kwargs {kwargs} with error:\n {error}\n"
             " Please fix the error and try again.")


def msg_content_output(output: Any) -> str | list[dict[str, Any]]:
    """A tool's output as ToolMessage content: strings and content blocks as they are,
    anything else as JSON (its ``str`` when it is not JSON-serialisable)."""
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(
        isinstance(x, dict) and x.get("type") in TOOL_MESSAGE_BLOCK_TYPES for x in output
    ):
        return output
    try:
        return json.dumps(output, ensure_ascii=False)
    except Exception:
        return str(output)


class ToolInvocationError(ToolException):
    """The model called a tool with arguments its schema rejects. Only the model-controlled
    arguments are reported (injected ones are left out): the model can fix those."""

    def __init__(self, tool_name: str, source: ValidationError, tool_kwargs: dict[str, Any],
                 hidden: set[str] | None = None) -> None:
        hidden = hidden or set()
        lines = [f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', 'invalid')}"
                 for e in source.errors() if e.get("loc") and e["loc"][0] not in hidden]
        self.message = _BAD_ARGS.format(name=tool_name, kwargs=tool_kwargs, error="\n".join(lines))
        self.tool_name, self.tool_kwargs, self.source = tool_name, tool_kwargs, source
        super().__init__(self.message)


def _default_handler(e: Exception) -> str:
    """Bad arguments go back to the model; any other tool failure fails the node."""
    if isinstance(e, ToolInvocationError):
        return e.message
    raise e


def _handled_types(handler: Callable[..., str]) -> tuple[type[BaseException], ...]:
    """The exception types a handler takes, from its first parameter's annotation."""
    params = list(inspect.signature(handler).parameters.values())
    if not params:
        return (Exception,)
    first = params[1] if params[0].name in ("self", "cls") and len(params) == 2 else params[0]
    try:
        hint = get_type_hints(handler).get(first.name)
    except Exception:
        hint = None
    if hint is None:
        return (Exception,)
    kinds = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    if not all(isinstance(k, type) and issubclass(k, BaseException) for k in kinds):
        raise AgentConfigError(
            f"handle_tool_errors handler {handler!r} annotates its error as {hint!r}: annotate "
            f"it with an exception class or a union of them, e.g. `def handler(e: ValueError)`"
        )
    return tuple(kinds)


class _ErrorPolicy:
    """Which tool failures become error ToolMessages, and their text (``handle_tool_errors``:
    True, a message string, an exception class or tuple of them, a handler, or False)."""

    def __init__(self, flag: Any) -> None:
        self.flag = flag
        if flag is False or flag is None:
            self.types: tuple[type[BaseException], ...] = ()
        elif flag is True or isinstance(flag, str):
            self.types = (Exception,)
        elif isinstance(flag, type) and issubclass(flag, Exception):
            self.types = (flag,)
        elif isinstance(flag, tuple) and all(isinstance(t, type) and issubclass(t, Exception) for t in flag):
            self.types = flag
        elif callable(flag):
            self.types = _handled_types(flag)
        else:
            raise AgentConfigError(
                f"handle_tool_errors={flag!r}: expected True/False, a message string, an "
                f"exception class or tuple of classes, or a function of the exception"
            )

    def handles(self, e: BaseException) -> bool:
        return isinstance(e, self.types)

    def content(self, e: Exception) -> str:
        flag = self.flag
        if isinstance(flag, str):
            return flag
        if flag is True or isinstance(flag, (type, tuple)):
            return _CAUGHT.format(error=e)
        return flag(e)


@dataclass
class ToolCallRequest:
    """One tool call as a ``wrap_tool_call`` hook sees it: the call, the tool (None when no
    tool has that name), the state and the tool's runtime. ``override(...)`` makes a copy."""

    tool_call: ToolCall
    tool: BaseTool | None
    state: Any
    runtime: ToolRuntime

    def override(self, **changes: Any) -> ToolCallRequest:
        new = replace(self, **changes)
        if "state" in changes and isinstance(new.runtime, ToolRuntime):
            new = replace(new, runtime=replace(new.runtime, state=new.state))
        return new


def _error_message(call: ToolCall, content: str) -> ToolMessage:
    return ToolMessage(content=content, name=call["name"], tool_call_id=call["id"], status="error")


class ToolNode(RunnableNode):
    """A node that runs the tool calls of the last AI message concurrently (threads for sync
    runs, asyncio tasks for async runs) and answers each with a ToolMessage.

    ``tools``: LangChain tools or plain functions (made tools with ``@tool``).
    ``handle_tool_errors``: by default a call with bad arguments is answered with an error
    message and any other exception fails the node; True answers every error, a string
    answers every error with that text, an exception class (or tuple) answers only those,
    a function ``f(e) -> str`` answers the exception types its annotation names, False lets
    every error fail the node. Interrupts always pass through.
    ``messages_key``: the state key holding the messages.
    ``wrap_tool_call`` / ``awrap_tool_call``: ``hook(request, execute)`` around each call.
    """

    def __init__(
        self,
        tools: Sequence[BaseTool | Callable[..., Any]],
        *,
        name: str = "tools",
        tags: list[str] | None = None,
        handle_tool_errors: Any = _default_handler,
        messages_key: str = "messages",
        wrap_tool_call: Callable[..., Any] | None = None,
        awrap_tool_call: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        super().__init__(self._func, self._afunc, name=name, tags=tags)
        self._errors = _ErrorPolicy(handle_tool_errors)
        self._handle_tool_errors = handle_tool_errors
        self._messages_key = messages_key
        self._wrap, self._awrap = wrap_tool_call, awrap_tool_call
        self._tools_by_name: dict[str, BaseTool] = {}
        self._injections: dict[str, Injections] = {}
        for t in tools:
            if not isinstance(t, BaseTool):
                if not callable(t):
                    raise AgentConfigError(f"ToolNode got {t!r}: give LangChain tools or functions")
                t = as_tool(t)
            self._tools_by_name[t.name] = t
            self._injections[t.name] = injections_of(t)

    @property
    def tools_by_name(self) -> dict[str, BaseTool]:
        """The node's tools by name."""
        return self._tools_by_name

    # --- running -----------------------------------------------------------------------------

    def _requests(self, input: Any, config: RunnableConfig, runtime: Runtime[Any]) -> tuple[list[ToolCallRequest], InputKind, list[RunnableConfig]]:
        calls, kind = self._parse_input(input)
        configs = get_config_list(config, len(calls))
        tools = list(self._tools_by_name.values())
        out = []
        for call, cfg in zip(calls, configs):
            rt = ToolRuntime(
                state=self._state_of(input), context=runtime.context, config=cfg,
                stream_writer=runtime.stream_writer, tool_call_id=call["id"], store=runtime.store,
                tools=tools, execution_info=runtime.execution_info, server_info=runtime.server_info,
            )
            out.append(ToolCallRequest(call, self._tools_by_name.get(call["name"]), rt.state, rt))
        return out, kind, configs

    def _func(self, input: Any, config: RunnableConfig, runtime: Runtime[Any]) -> Any:
        requests, kind, configs = self._requests(input, config, runtime)
        with get_executor_for_config(config) as pool:
            outputs = list(pool.map(lambda r, c: self._run_one(r, kind, c), requests, configs))
        return self._combine(outputs, kind)

    async def _afunc(self, input: Any, config: RunnableConfig, runtime: Runtime[Any]) -> Any:
        requests, kind, configs = self._requests(input, config, runtime)
        outputs = await asyncio.gather(*(self._arun_one(r, kind, c) for r, c in zip(requests, configs)))
        return self._combine(list(outputs), kind)

    def _run_one(self, request: ToolCallRequest, kind: InputKind, config: RunnableConfig) -> Any:
        if self._wrap is None:
            return self._execute(request, kind, config)
        try:
            return self._wrap(request, lambda r: self._execute(r, kind, config))
        except GraphBubbleUp:
            raise
        except Exception as e:
            if not self._errors.types or is_invalid_resume(e):
                raise
            return _error_message(request.tool_call, self._errors.content(e))

    async def _arun_one(self, request: ToolCallRequest, kind: InputKind, config: RunnableConfig) -> Any:
        if self._awrap is None and self._wrap is None:
            return await self._aexecute(request, kind, config)
        try:
            if self._awrap is not None:
                return await self._awrap(request, lambda r: self._aexecute(r, kind, config))
            return self._wrap(request, lambda r: self._execute(r, kind, config))  # type: ignore[misc]
        except GraphBubbleUp:
            raise
        except Exception as e:
            if not self._errors.types or is_invalid_resume(e):
                raise
            return _error_message(request.tool_call, self._errors.content(e))

    def _prepare(self, request: ToolCallRequest) -> tuple[Any, dict[str, Any] | ToolMessage]:
        call, tool = request.tool_call, request.tool
        if tool is None:
            names = ", ".join(self._tools_by_name)
            return None, _error_message(call, _UNKNOWN_TOOL.format(name=call["name"], names=names))
        inj = self._injections.get(call["name"]) or injections_of(tool)
        return tool, {**inject(call, inj, request.runtime, self._messages_key), "type": "tool_call"}

    def _passes(self, e: BaseException) -> bool:
        """Errors no policy answers: interrupts, and resume values an interrupt's
        ``response_schema`` refused (the model cannot fix those; the interrupt stays open)."""
        return isinstance(e, GraphBubbleUp) or is_invalid_resume(e)

    def _failed(self, e: Exception, call: ToolCall) -> ToolMessage:
        if self._passes(e) or not self._errors.handles(e):
            raise e
        return _error_message(call, self._errors.content(e))

    def _bad_args(self, call: ToolCall, exc: ValidationError) -> ToolInvocationError:
        inj = self._injections.get(call["name"])
        return ToolInvocationError(call["name"], exc, call["args"], inj.hidden if inj else None)

    def _execute(self, request: ToolCallRequest, kind: InputKind, config: RunnableConfig) -> Any:
        tool, prepared = self._prepare(request)
        if tool is None:
            return prepared
        call = request.tool_call
        try:
            try:
                response = tool.invoke(prepared, config)
            except ValidationError as exc:
                if is_invalid_resume(exc):
                    raise
                raise self._bad_args(call, exc) from exc
            return self._normalize(response, call, kind)
        except GraphBubbleUp:
            raise
        except Exception as e:
            return self._failed(e, call)

    async def _aexecute(self, request: ToolCallRequest, kind: InputKind, config: RunnableConfig) -> Any:
        tool, prepared = self._prepare(request)
        if tool is None:
            return prepared
        call = request.tool_call
        try:
            try:
                response = await tool.ainvoke(prepared, config)
            except ValidationError as exc:
                if is_invalid_resume(exc):
                    raise
                raise self._bad_args(call, exc) from exc
            return self._normalize(response, call, kind)
        except GraphBubbleUp:
            raise
        except Exception as e:
            return self._failed(e, call)

    # --- input -------------------------------------------------------------------------------

    def _parse_input(self, input: Any) -> tuple[list[ToolCall], InputKind]:
        if isinstance(input, list):
            if input and isinstance(input[-1], dict) and input[-1].get("type") == "tool_call":
                return list(input), "tool_calls"
            messages, kind = input, "list"
        elif isinstance(input, dict) and input.get("__type") == "tool_call_with_context":
            return [input["tool_call"]], "tool_calls"
        elif isinstance(input, dict) and input.get(self._messages_key):
            messages, kind = input[self._messages_key], "dict"
        elif not isinstance(input, dict) and getattr(input, self._messages_key, None):
            messages, kind = getattr(input, self._messages_key), "dict"
        else:
            raise ToolNodeInputError(
                f"{self.get_name()!r} found no messages in its input: give it a state with a "
                f"{self._messages_key!r} key, a list of messages or a list of tool calls"
            )
        ai = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        if ai is None:
            raise ToolNodeInputError(
                f"{self.get_name()!r} found no AI message among its input messages: it runs the "
                f"tool calls of the last AIMessage"
            )
        return list(ai.tool_calls), kind  # type: ignore[return-value]

    def _state_of(self, input: Any) -> Any:
        """The state tools see: the Send's state, the graph's state for bare tool calls, or
        the input itself."""
        if isinstance(input, dict) and input.get("__type") == "tool_call_with_context":
            return input["state"]
        if isinstance(input, list) and input and isinstance(input[-1], dict) and input[-1].get("type") == "tool_call":
            task = var_task.get()
            if task is None:
                return {}
            graph = task.loop.graph
            return graph.read_state(task.loop.values)
        return input

    # --- output ------------------------------------------------------------------------------

    def _normalize(self, response: Any, call: ToolCall, kind: InputKind) -> Any:
        if isinstance(response, Command):
            return self._check_command(response, call, kind)
        if isinstance(response, ToolMessage):
            response.content = msg_content_output(response.content)
            return response
        if isinstance(response, list) and all(isinstance(r, (Command, ToolMessage)) for r in response):
            return self._check_list(response, call, kind)
        raise ToolResultError(
            f"Tool {call['name']!r} returned {type(response).__name__}: a tool node's tools "
            f"return content, a ToolMessage, a Command, or a list of ToolMessages and Commands"
        )

    def _check_list(self, response: list[Any], call: ToolCall, kind: InputKind) -> list[Any]:
        answers = 0
        for item in response:
            if isinstance(item, ToolMessage):
                answers += item.tool_call_id == call["id"]
            elif isinstance(item.update, dict):
                answers += sum(isinstance(m, ToolMessage) and m.tool_call_id == call["id"]
                               for m in item.update.get(self._messages_key, []))
        if answers != 1:
            raise ToolResultError(
                f"Tool {call['name']!r} returned a list answering tool call {call['id']!r} "
                f"{answers} times: exactly one ToolMessage with that tool_call_id is needed"
            )
        out = []
        for item in response:
            if isinstance(item, Command):
                out.append(self._check_command(item, call, kind, need_answer=False))
            else:
                item.content = msg_content_output(item.content)
                out.append(item)
        return out

    def _check_command(self, cmd: Command, call: ToolCall, kind: InputKind, *, need_answer: bool = True) -> Command:
        if isinstance(cmd.update, dict):
            if kind == "list":
                raise ToolResultError(
                    f"Tool {call['name']!r} returned Command(update={cmd.update!r}) but the tool "
                    f"node was given a list of messages: return a list of messages as the update, "
                    f"or give the node a state with a {self._messages_key!r} key"
                )
            cmd = deepcopy(cmd)
            messages = cmd.update.get(self._messages_key, [])
        elif isinstance(cmd.update, list):
            if kind != "list":
                raise ToolResultError(
                    f"Tool {call['name']!r} returned Command(update=<list>) but the tool node was "
                    f"given a state: return a dict update with a {self._messages_key!r} key"
                )
            cmd = deepcopy(cmd)
            messages = cmd.update
        else:
            return cmd
        messages = convert_to_messages(messages)
        if len(messages) == 1 and isinstance(messages[0], RemoveMessage) and messages[0].id == REMOVE_ALL_MESSAGES:
            return cmd
        answered = False
        for m in messages:
            if isinstance(m, ToolMessage) and m.tool_call_id == call["id"]:
                m.name = call["name"]
                answered = True
        if need_answer and cmd.graph is None and not answered:
            raise ToolResultError(
                f"Tool {call['name']!r} returned a Command without a ToolMessage for tool call "
                f"{call['id']!r} in its update; every tool call needs an answer: return e.g. "
                f"Command(update={{{self._messages_key!r}: [ToolMessage('done', "
                f"tool_call_id=tool_call_id)]}})"
            )
        if isinstance(cmd.update, dict):
            if self._messages_key in cmd.update:
                cmd.update[self._messages_key] = messages
        else:
            cmd.update = messages
        return cmd

    def _combine(self, outputs: list[Any], kind: InputKind) -> Any:
        flat: list[Any] = []
        for out in outputs:
            flat.extend(out) if isinstance(out, list) else flat.append(out)
        if not any(isinstance(o, Command) for o in flat):
            return flat if kind == "list" else {self._messages_key: flat}
        combined: list[Any] = []
        parent_sends: list[Send] = []
        for o in flat:
            if isinstance(o, Command):
                goto = o.goto
                if o.graph == Command.PARENT and isinstance(goto, list) and goto and all(isinstance(s, Send) for s in goto):
                    parent_sends.extend(goto)
                else:
                    combined.append(o)
            else:
                combined.append([o] if kind == "list" else {self._messages_key: [o]})
        if parent_sends:
            combined.append(Command(graph=Command.PARENT, goto=parent_sends))
        return combined


def tools_condition(state: Any, messages_key: str = "messages") -> Literal["tools", "__end__"]:
    """Route to ``"tools"`` when the last message has tool calls, else to END."""
    if isinstance(state, list):
        messages = state
    elif isinstance(state, dict):
        messages = state.get(messages_key) or []
    else:
        messages = getattr(state, messages_key, None) or []
    if not messages:
        raise ToolNodeInputError(
            f"tools_condition found no messages in {state!r}: route on a state with a "
            f"{messages_key!r} key (or pass messages_key=...)"
        )
    last = messages[-1]
    return "tools" if getattr(last, "tool_calls", None) else "__end__"
