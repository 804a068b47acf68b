"""``create_react_agent``: a graph that calls a chat model, runs the tools it asks for, and
loops until the model answers without tool calls (LangGraph 1.x's prebuilt ReAct agent).

Nodes: ``agent`` (the model), ``tools`` (a ``ToolNode``), and optionally ``pre_model_hook``,
``post_model_hook`` and ``generate_structured_response``. With ``version="v2"`` (the default)
each tool call runs as its own task (a ``Send``), so calls run in parallel and an interrupt
in one tool does not re-run the others; ``"v1"`` runs all calls of a message in one task.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, get_type_hints

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, RunnableSequence
from langchain_core.tools import BaseTool
from pydantic import BaseModel
from typing_extensions import NotRequired, TypedDict

from waypoint.errors import AgentConfigError, ErrorCode, InvalidChatHistoryError, create_error_message
from waypoint.graph import END, StateGraph
from waypoint.graph.message import add_messages
from waypoint.graph.state import CompiledStateGraph
from waypoint.prebuilt._node import RunnableNode
from waypoint.prebuilt.tool_node import ToolNode
from waypoint.runtime import Runtime
from waypoint.types import Send

from waypoint.managed import RemainingSteps

__all__ = [
    "AgentState",
    "AgentStatePydantic",
    "AgentStateWithStructuredResponse",
    "AgentStateWithStructuredResponsePydantic",
    "create_react_agent",
    "create_tool_calling_executor",
]

StructuredResponse = dict | BaseModel
PROMPT_RUNNABLE_NAME = "Prompt"
_NEED_MORE_STEPS = "Sorry, need more steps to process this request."


class AgentState(TypedDict):
    """The agent's state: the conversation and the steps left before the recursion limit."""

    messages: Annotated[Sequence[BaseMessage], add_messages]
    remaining_steps: NotRequired[RemainingSteps]


class AgentStatePydantic(BaseModel):
    """``AgentState`` as a pydantic model."""

    messages: Annotated[Sequence[BaseMessage], add_messages]
    remaining_steps: RemainingSteps = 25


class AgentStateWithStructuredResponse(AgentState):
    """``AgentState`` plus the ``structured_response`` of ``response_format``."""

    structured_response: StructuredResponse


class AgentStateWithStructuredResponsePydantic(AgentStatePydantic):
    """``AgentStatePydantic`` plus the ``structured_response`` of ``response_format``."""

    structured_response: StructuredResponse


def _get(state: Any, key: str, default: Any = None) -> Any:
    return state.get(key, default) if isinstance(state, dict) else getattr(state, key, default)


# --- the prompt and the model --------------------------------------------------------------


def _prompt_runnable(prompt: Any) -> Runnable[Any, Any]:
    """The Runnable turning the state into the model's input."""
    def messages(state: Any) -> list[Any]:
        return list(_get(state, "messages"))

    if prompt is None:
        return RunnableNode(lambda s, c, r: messages(s), name=PROMPT_RUNNABLE_NAME)
    if isinstance(prompt, str):
        prompt = SystemMessage(content=prompt)
    if isinstance(prompt, SystemMessage):
        system = prompt
        return RunnableNode(lambda s, c, r: [system, *messages(s)], name=PROMPT_RUNNABLE_NAME)
    if isinstance(prompt, Runnable):
        return prompt
    if inspect.iscoroutinefunction(prompt):
        async def aprompt(s: Any, c: Any, r: Any) -> Any:
            return await prompt(s)

        return RunnableNode(None, aprompt, name=PROMPT_RUNNABLE_NAME)
    if callable(prompt):
        return RunnableNode(lambda s, c, r: prompt(s), name=PROMPT_RUNNABLE_NAME)
    raise AgentConfigError(
        f"prompt={prompt!r}: give a string, a SystemMessage, a function of the state or a Runnable"
    )


def _chat_model_step(model: Any) -> Any:
    if isinstance(model, RunnableSequence):
        return next((s for s in model.steps if isinstance(s, (RunnableBinding, BaseChatModel))), model)
    return model


def _tool_name(spec: dict[str, Any]) -> str | None:
    if spec.get("type") == "function":
        return spec["function"]["name"]
    return spec.get("name")


def _needs_binding(model: Any, tools: Sequence[BaseTool], builtin: int) -> bool:
    """Whether the tools still have to be bound (False when ``model.bind_tools`` was already
    called with the same tools)."""
    model = _chat_model_step(model)
    if not isinstance(model, RunnableBinding) or "tools" not in model.kwargs:
        return True
    bound = model.kwargs["tools"]
    if len(tools) != len(bound) - builtin:
        raise AgentConfigError(
            f"The model is bound to {len(bound) - builtin} tools but create_react_agent got "
            f"{len(tools)}: bind the same tools (or pass the unbound model)"
        )
    missing = {t.name for t in tools} - {n for b in bound if (n := _tool_name(b))}
    if missing:
        raise AgentConfigError(f"Tools {sorted(missing)} are not bound to the model: bind them with model.bind_tools(...)")
    return False


def _chat_model(model: Any) -> BaseChatModel:
    """The chat model under bindings and sequences (``with_structured_output`` needs it)."""
    model = _chat_model_step(model)
    if isinstance(model, RunnableBinding):
        model = model.bound
    if not isinstance(model, BaseChatModel):
        raise AgentConfigError(
            f"response_format needs a chat model (or model.bind_tools(...)), got {type(model).__name__}"
        )
    return model


def _model_from_string(model: str) -> Any:
    try:
        from langchain.chat_models import init_chat_model  # type: ignore[import-not-found]
    except ImportError:
        raise AgentConfigError(
            f"model={model!r}: '<provider>:<model>' names need the langchain package "
            f"(pip install langchain), or pass a chat model object"
        ) from None
    return init_chat_model(model)


def _check_history(messages: Sequence[Any]) -> None:
    """Refuse to call the model while an AI tool call has no answer (providers reject it)."""
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    open_calls = [c for m in messages if isinstance(m, AIMessage) for c in m.tool_calls
                  if c["id"] not in answered]
    if open_calls:
        raise InvalidChatHistoryError(create_error_message(
            message=(
                f"The messages hold {len(open_calls)} AI tool call(s) without a ToolMessage "
                f"answering them (first ones: {open_calls[:3]}). Chat model providers refuse "
                "such a history: add a ToolMessage with each call's tool_call_id (for example "
                "with update_state) before running the agent again."
            ),
            error_code=ErrorCode.INVALID_CHAT_HISTORY,
        ))


# --- the agent graph -----------------------------------------------------------------------


def _input_schema(state_schema: Any) -> Any:
    """The model node's input with a pre-model hook: the state plus ``llm_input_messages``
    (what the hook wants the model to read without changing the stored messages)."""
    if isinstance(state_schema, type) and issubclass(state_schema, BaseModel):
        from pydantic import create_model

        return create_model("CallModelInputSchema", llm_input_messages=(list[AnyMessage], ...),
                            __base__=state_schema)

    class CallModelInputSchema(state_schema):  # type: ignore[misc,valid-type]
        llm_input_messages: list[AnyMessage]

    return CallModelInputSchema


def create_react_agent(
    model: Any,
    tools: Sequence[BaseTool | Callable[..., Any] | dict[str, Any]] | ToolNode,
    *,
    prompt: Any = None,
    response_format: Any = None,
    pre_model_hook: Any = None,
    post_model_hook: Any = None,
    state_schema: Any = None,
    context_schema: Any = None,
    checkpointer: Any = None,
    store: Any = None,
    interrupt_before: list[str] | None = None,
    interrupt_after: list[str] | None = None,
    debug: bool = False,
    version: Literal["v1", "v2"] = "v2",
    name: str | None = None,
    **deprecated_kwargs: Any,
) -> CompiledStateGraph:
    """Build a ReAct agent: ``agent`` calls the model; while its answer has tool calls,
    ``tools`` runs them and the model is called again.

    ``model``: a chat model (tools are bound with ``bind_tools`` unless already bound), a
    ``"provider:model"`` name (needs ``langchain``), or a function ``(state, runtime)`` choosing
    the model per call (sync or async). ``tools``: tools, functions, provider tool dicts, or a
    ``ToolNode``. ``prompt``: a system prompt string or message, a function of the state
    returning the model input, or a Runnable. ``response_format``: a schema (pydantic model,
    TypedDict, JSON schema), or ``(prompt, schema)``: after the loop the model is asked once
    more for an answer in that shape, stored in ``structured_response``.
    ``pre_model_hook`` / ``post_model_hook``: nodes run before / after each model call (a
    pre-hook may return ``llm_input_messages`` to change what the model reads without
    changing the stored messages). ``state_schema`` must have ``messages`` and
    ``remaining_steps`` (and ``structured_response`` with ``response_format``).
    ``version="v2"`` runs each tool call as its own task, ``"v1"`` all calls in one.
    ``checkpointer``, ``store``, ``interrupt_before/after`` (``"agent"``, ``"tools"``), ``debug``,
    ``name`` and ``context_schema`` go to ``StateGraph`` / ``compile``.
    """
    if "config_schema" in deprecated_kwargs:
        import warnings

        from waypoint.warnings import LangGraphDeprecatedSinceV10

        warnings.warn(LangGraphDeprecatedSinceV10("`config_schema` is deprecated: use `context_schema`"),
                      stacklevel=2)
        schema = deprecated_kwargs.pop("config_schema")
        context_schema = context_schema if context_schema is not None else schema
    if deprecated_kwargs:
        raise TypeError(f"create_react_agent() got unexpected arguments {sorted(deprecated_kwargs)}")
    if version not in ("v1", "v2"):
        raise AgentConfigError(f"version={version!r}: expected 'v1' or 'v2'")
    if state_schema is not None:
        required = {"messages", "remaining_steps"} | ({"structured_response"} if response_format is not None else set())
        missing = required - set(get_type_hints(state_schema))
        if missing:
            raise AgentConfigError(
                f"state_schema {state_schema.__name__} lacks key(s) {sorted(missing)}: subclass "
                f"AgentState (or AgentStateWithStructuredResponse) to add your own keys"
            )
    else:
        state_schema = AgentStateWithStructuredResponse if response_format is not None else AgentState

    builtin: list[dict[str, Any]] = []
    if isinstance(tools, ToolNode) or hasattr(tools, "tools_by_name"):  # also LangGraph's ToolNode
        tool_node = tools
    else:
        builtin = [t for t in tools if isinstance(t, dict)]
        tool_node = ToolNode([t for t in tools if not isinstance(t, dict)])
    tool_list = list(tool_node.tools_by_name.values())
    return_direct = {t.name for t in tool_list if t.return_direct}

    dynamic = callable(model) and not isinstance(model, (str, Runnable))
    async_dynamic = dynamic and inspect.iscoroutinefunction(model)
    static: Runnable[Any, Any] | None = None
    if not dynamic:
        if isinstance(model, str):
            model = _model_from_string(model)
        if tool_list + builtin and _needs_binding(model, tool_list, len(builtin)):
            model = model.bind_tools(tool_list + builtin)
        static = _prompt_runnable(prompt) | model

    def resolve(state: Any, runtime: Runtime[Any]) -> Runnable[Any, Any]:
        if not dynamic:
            return static  # type: ignore[return-value]
        if async_dynamic:
            raise AgentConfigError(
                "The model function is async but the agent was run synchronously: use "
                "ainvoke/astream, or give a sync model function"
            )
        return _prompt_runnable(prompt) | model(state, runtime)

    async def aresolve(state: Any, runtime: Runtime[Any]) -> Runnable[Any, Any]:
        if async_dynamic:
            return _prompt_runnable(prompt) | await model(state, runtime)
        return resolve(state, runtime)

    def model_input(state: Any) -> Any:
        messages = _get(state, "llm_input_messages") if pre_model_hook is not None else None
        messages = messages or _get(state, "messages")
        if messages is None:
            wanted = "'llm_input_messages' or 'messages'" if pre_model_hook is not None else "'messages'"
            raise AgentConfigError(f"The agent's model node needs {wanted} in its input; got {state!r}")
        _check_history(messages)
        if isinstance(state, BaseModel):
            return state.model_copy(update={"messages": messages})
        return {**state, "messages": messages}

    def answer(state: Any, response: Any) -> dict[str, Any]:
        response.name = name
        is_ai = isinstance(response, AIMessage)
        calls = response.tool_calls if is_ai else []
        all_direct = all(c["name"] in return_direct for c in calls) if is_ai else False
        left = _get(state, "remaining_steps")  # managed: steps left before the recursion limit
        if left is not None and ((left < 1 and all_direct) or (left < 2 and calls)):
            return {"messages": [AIMessage(id=response.id, content=_NEED_MORE_STEPS)]}
        return {"messages": [response]}

    def call_model(state: Any, config: RunnableConfig, runtime: Runtime[Any]) -> Any:
        return answer(state, resolve(state, runtime).invoke(model_input(state), config))

    async def acall_model(state: Any, config: RunnableConfig, runtime: Runtime[Any]) -> Any:
        runnable = await aresolve(state, runtime)
        return answer(state, await runnable.ainvoke(model_input(state), config))

    def structured_input(state: Any) -> tuple[list[Any], Any]:
        messages, schema = list(_get(state, "messages")), response_format
        if isinstance(response_format, tuple):
            system, schema = response_format
            messages = [SystemMessage(content=system), *messages]
        return messages, schema

    def structured(state: Any, config: RunnableConfig, runtime: Runtime[Any]) -> Any:
        messages, schema = structured_input(state)
        out = _chat_model(resolve(state, runtime)).with_structured_output(schema).invoke(messages, config)
        return {"structured_response": out}

    async def astructured(state: Any, config: RunnableConfig, runtime: Runtime[Any]) -> Any:
        messages, schema = structured_input(state)
        runnable = _chat_model(await aresolve(state, runtime)).with_structured_output(schema)
        return {"structured_response": await runnable.ainvoke(messages, config)}

    workflow = StateGraph(state_schema, context_schema=context_schema)
    workflow.add_node("agent", RunnableNode(call_model, acall_model, name="call_model"),
                      input_schema=_input_schema(state_schema) if pre_model_hook is not None else None)
    entry = "agent"
    if pre_model_hook is not None:
        workflow.add_node("pre_model_hook", pre_model_hook)
        workflow.add_edge("pre_model_hook", "agent")
        entry = "pre_model_hook"
    workflow.set_entry_point(entry)
    if post_model_hook is not None:
        workflow.add_node("post_model_hook", post_model_hook)
        workflow.add_edge("agent", "post_model_hook")
    if response_format is not None:
        workflow.add_node("generate_structured_response",
                          RunnableNode(structured, astructured, name="generate_structured_response"))
        workflow.add_edge("generate_structured_response", END)  # drawn as LangGraph draws it

    if not tool_list:  # a single model call (plus hooks and the structured answer)
        if response_format is not None:
            last = "post_model_hook" if post_model_hook is not None else "agent"
            workflow.add_edge(last, "generate_structured_response")
        else:
            workflow.add_edge("post_model_hook" if post_model_hook is not None else "agent", END)
        return workflow.compile(checkpointer=checkpointer, store=store, interrupt_before=interrupt_before,
                                interrupt_after=interrupt_after, debug=debug, name=name)

    finish = "generate_structured_response" if response_format is not None else END

    def sends(state: Any, calls: list[Any]) -> list[Send]:
        return [Send("tools", {"__type": "tool_call_with_context", "tool_call": c, "state": state})
                for c in calls]

    def should_continue(state: Any) -> Any:
        last = _get(state, "messages")[-1]
        if not isinstance(last, AIMessage) or not last.tool_calls:
            return "post_model_hook" if post_model_hook is not None else finish
        if version == "v1":
            return "tools"
        if post_model_hook is not None:
            return "post_model_hook"
        return sends(state, last.tool_calls)

    workflow.add_node("tools", tool_node)
    agent_paths = ["post_model_hook"] if post_model_hook is not None else ["tools", finish]
    workflow.add_conditional_edges("agent", should_continue, path_map=agent_paths)

    if post_model_hook is not None:
        def post_model_hook_router(state: Any) -> Any:
            messages = _get(state, "messages")
            answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
            last_ai = next(m for m in reversed(messages) if isinstance(m, AIMessage))
            pending = [c for c in last_ai.tool_calls if c["id"] not in answered]
            if pending:
                return sends(state, pending)
            if isinstance(messages[-1], ToolMessage):
                return entry
            return finish

        workflow.add_conditional_edges("post_model_hook", post_model_hook_router,
                                       path_map=[entry, "tools", finish])

    if return_direct:
        def route_tool_responses(state: Any) -> str:
            m: Any = None
            for m in reversed(_get(state, "messages")):
                if not isinstance(m, ToolMessage):
                    break
                if m.name in return_direct:
                    return END
            if isinstance(m, AIMessage) and any(c["name"] in return_direct for c in m.tool_calls):
                return END  # a parallel call of a return_direct tool ran in another task
            return entry

        workflow.add_conditional_edges("tools", route_tool_responses, path_map=[entry, END])
    else:
        workflow.add_edge("tools", entry)
    return workflow.compile(checkpointer=checkpointer, store=store, interrupt_before=interrupt_before,
                            interrupt_after=interrupt_after, debug=debug, name=name)


create_tool_calling_executor = create_react_agent
