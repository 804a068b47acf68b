"""Everything waypoint knows about LangChain (``langchain-core``), behind one narrow interface.

waypoint's engine never imports ``langchain_core``: it calls the functions here. They import
it the first time they need it and answer "not available" when it is absent, so plain Python
programs run without it and pay nothing for it. When it is installed waypoint behaves as
LangGraph does with it: message-like values become message objects in ``add_messages``.
"""

from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace
from typing import Any

from waypoint.errors import LangChainRequiredError, MessageCoercionError

_UNSET: Any = object()
_LC: Any = _UNSET  # the LangChain pieces waypoint uses (a namespace), or None when absent


def lc() -> SimpleNamespace | None:
    """The LangChain classes and functions waypoint uses, or None without langchain-core.

    Imported once, on first use; tests may set ``_LC = None`` to exercise the plain path.
    """
    global _LC
    if _LC is _UNSET:
        try:
            from langchain_core import messages as m
        except ImportError:
            _LC = None
        else:
            _LC = SimpleNamespace(
                BaseMessage=m.BaseMessage,
                BaseMessageChunk=m.BaseMessageChunk,
                RemoveMessage=m.RemoveMessage,
                convert_to_messages=m.convert_to_messages,
                convert_to_openai_messages=m.convert_to_openai_messages,
                chunk_to_message=m.message_chunk_to_message,
            )
            _mark_tool_output()
    return _LC


def _mark_tool_output() -> None:
    """Make waypoint's ``Command`` a LangChain tool output (as LangGraph's is): a tool that
    returns one then hands it back as is instead of wrapping its text in a ToolMessage.
    ``waypoint.types`` cannot import LangChain, so the base is added once LangChain is in."""
    from langchain_core.messages.tool import ToolOutputMixin

    from waypoint.types import Command

    if not issubclass(Command, ToolOutputMixin):
        Command.__bases__ = (*Command.__bases__, ToolOutputMixin)


def loaded() -> bool:
    """Whether LangChain is importable *and* already imported by the program: objects of its
    classes can only exist then, so checks for them cost nothing otherwise."""
    return sys.modules.get("langchain_core") is not None and lc() is not None


def require(feature: str) -> SimpleNamespace:
    """The LangChain pieces, or a LangChainRequiredError naming ``feature``."""
    ns = lc()
    if ns is None:
        raise LangChainRequiredError(
            f"{feature} needs langchain-core: pip install langchain-core"
        )
    return ns


# --- types the serializer loads by default ---------------------------------------------------

# LangChain's data classes that graphs keep in their state: messages (and their chunks),
# documents, agent steps, generations and prompt values. They are plain pydantic data whose
# loading runs no user code, so the serializer loads them without ``allowed_types`` (LangGraph's
# does too), importing their module itself when langchain-core is installed and stored data
# names one of them. Tool calls and content blocks are TypedDicts, stored as plain dicts.
SAFE_TYPES: frozenset[tuple[str, str]] = frozenset(
    [
        *(
            (f"langchain_core.messages.{module}", name)
            for module, base in (
                ("base", "Base"), ("human", "Human"), ("ai", "AI"), ("system", "System"),
                ("chat", "Chat"), ("tool", "Tool"), ("function", "Function"),
            )
            for name in (f"{base}Message", f"{base}MessageChunk")
        ),
        ("langchain_core.messages.modifier", "RemoveMessage"),
        ("langchain_core.documents.base", "Document"),
        ("langchain_core.agents", "AgentAction"),
        ("langchain_core.agents", "AgentActionMessageLog"),
        ("langchain_core.agents", "AgentFinish"),
        ("langchain_core.agents", "AgentStep"),
        ("langchain_core.outputs.generation", "Generation"),
        ("langchain_core.outputs.generation", "GenerationChunk"),
        ("langchain_core.outputs.chat_generation", "ChatGeneration"),
        ("langchain_core.outputs.chat_generation", "ChatGenerationChunk"),
        ("langchain_core.prompt_values", "ChatPromptValue"),
        ("langchain_core.prompt_values", "StringPromptValue"),
    ]
)
_SAFE_MODULES = frozenset(module for module, _ in SAFE_TYPES)


def is_safe_type(cls: type) -> bool:
    """Whether ``cls`` is one of LangChain's data classes the serializer loads by default."""
    return (getattr(cls, "__module__", None), getattr(cls, "__qualname__", None)) in SAFE_TYPES


def import_safe_module(module: str, name: str) -> bool:
    """Import ``module`` when ``(module, name)`` is in :data:`SAFE_TYPES` and langchain-core
    is installed; True if the module is imported afterwards. Nothing else is ever imported."""
    if (module, name) not in SAFE_TYPES:
        return False
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def import_safe_modules() -> bool:
    """Import every module of :data:`SAFE_TYPES` and LangChain's id mapping (constructor forms
    name classes by LangChain ids); False when langchain-core is not installed."""
    try:
        for module in sorted(_SAFE_MODULES):
            importlib.import_module(module)
        importlib.import_module("langchain_core.load.mapping")
    except ImportError:
        return False
    return True


# --- messages ------------------------------------------------------------------------------


def message_coercer() -> Any:
    """A function turning one message-like value into a LangChain message (as LangGraph's
    ``add_messages`` does), or None when LangChain is not installed (values stay as given)."""
    ns = lc()
    if ns is None:
        return None
    base, chunk_cls, remove_cls = ns.BaseMessage, ns.BaseMessageChunk, ns.RemoveMessage
    convert, to_message = ns.convert_to_messages, ns.chunk_to_message

    def coerce(m: Any) -> Any:
        if isinstance(m, base):
            return to_message(m) if isinstance(m, chunk_cls) else m
        if type(m) is dict and m.get("type") == "remove" and "role" not in m:
            return remove_cls(id=m.get("id"))
        if not isinstance(m, (str, dict, tuple, list)):
            if getattr(m, "type", None) == "remove":  # waypoint's own RemoveMessage
                return remove_cls(id=m.id)
        try:
            return convert([m])[0]
        except (NotImplementedError, ValueError, TypeError, KeyError) as exc:
            raise MessageCoercionError(
                f"Cannot turn {m!r} into a message: write a LangChain message, a dict with "
                f"'role' (or 'type') and 'content', a (role, content) tuple or a string ({exc})"
            ) from None

    return coerce


def format_openai(messages: list[Any]) -> list[Any]:
    """Messages with their content in OpenAI's format (``add_messages(format=
    "langchain-openai")``). Unlike LangGraph, ids are kept so later updates still replace
    the right message."""
    ns = require('add_messages(format="langchain-openai")')
    out = []
    for m in messages:
        new = ns.convert_to_messages(ns.convert_to_openai_messages([m]))[0]
        if getattr(m, "id", None) is not None:
            new.id = m.id
        out.append(new)
    return out


# --- runnables as nodes --------------------------------------------------------------------


def is_runnable(obj: Any) -> bool:
    """Whether ``obj`` is a LangChain Runnable (never imports LangChain to find out)."""
    if not loaded():
        return False
    from langchain_core.runnables import Runnable

    return isinstance(obj, Runnable)


def runnable_node(runnable: Any) -> tuple[Any, Any]:
    """``(func, afunc)`` calling a Runnable node with the task's config (its callbacks make
    the Runnable's run a child of the node's run). LangGraph's own Runnables (its
    ``ToolNode``, ``ValidationNode``) also get the runtime they look for in the config, and
    the ``Command``s they return become waypoint's."""
    if not _from_langgraph(runnable):
        def func(inp: Any, task: Any) -> Any:
            return runnable.invoke(inp, task.config)

        async def afunc(inp: Any, task: Any) -> Any:
            return await runnable.ainvoke(inp, task.config)

        return func, afunc

    _bubble_through_langgraph()

    def lg_func(inp: Any, task: Any) -> Any:
        return _from_langgraph_output(runnable.invoke(inp, _langgraph_config(task)))

    async def lg_afunc(inp: Any, task: Any) -> Any:
        return _from_langgraph_output(await runnable.ainvoke(inp, _langgraph_config(task)))

    return lg_func, lg_afunc


# --- LangGraph's Runnables as nodes (known by name: waypoint never imports langgraph here) --

_LG_RUNTIME = "__pregel_runtime"  # where LangGraph's Runnables read their node's Runtime
_LG_READ_STATE = "__pregel_read_state"  # how LangGraph's ToolNode reads the state for bare tool calls


def _from_langgraph(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "langgraph"


def _bubble_through_langgraph() -> None:
    """Make waypoint's GraphBubbleUp (interrupts, parent commands) also LangGraph's, so
    LangGraph code that lets its own pass (``ToolNode(handle_tool_errors=True)`` re-raises
    them instead of answering the model with them) lets waypoint's pass too. LangGraph is
    already loaded here (a node is one of its objects): taken from ``sys.modules``."""
    errors = sys.modules.get("langgraph.errors")
    theirs = getattr(errors, "GraphBubbleUp", None)
    from waypoint.errors import GraphBubbleUp

    if isinstance(theirs, type) and not issubclass(GraphBubbleUp, theirs):
        GraphBubbleUp.__bases__ = (*GraphBubbleUp.__bases__, theirs)


def _langgraph_config(task: Any) -> dict[str, Any]:
    """The task's config plus the configurable keys LangGraph's runtime would have set."""
    cfg = task.config
    loop = task.loop
    conf = {**(cfg.get("configurable") or {}), _LG_RUNTIME: task.runtime,
            _LG_READ_STATE: lambda: loop.graph.read_state(loop.values)}
    return {**cfg, "configurable": conf}


def _from_langgraph_output(out: Any) -> Any:
    """LangGraph ``Command`` / ``Send`` objects (from tools written against LangGraph) as
    waypoint's; anything else unchanged."""
    if isinstance(out, list):
        return [_from_langgraph_output(o) for o in out]
    if not _from_langgraph(out):
        return out
    from waypoint.types import Command, Send

    kind = type(out).__name__
    if kind == "Send":
        return Send(out.node, out.arg)
    if kind == "Command":
        goto = out.goto
        if isinstance(goto, (list, tuple)):
            goto = [_from_langgraph_output(g) for g in goto]
        else:
            goto = _from_langgraph_output(goto)
        return Command(graph=out.graph, update=out.update, resume=out.resume, goto=goto)
    return out


# --- callbacks: the graph run, node runs, token streaming ----------------------------------

TAG_NOSTREAM = "nostream"
TAG_HIDDEN = "langsmith:hidden"


def _tracing_env() -> bool:
    """Whether LangSmith tracing is on (env or ``tracing_v2_enabled()``): a traced run needs
    callbacks even when the config names none."""
    from langchain_core.tracers import context

    check = getattr(context, "tracing_v2_is_enabled", None) or getattr(context, "_tracing_v2_is_enabled")
    return bool(check())


class GraphRun:
    """The LangChain run of one graph run: started before the first step, ended after the
    last; node runs are its children (``child(step)``)."""

    __slots__ = ("manager", "run", "input", "name", "run_id")

    def __init__(self, manager: Any, input: Any, name: str, run_id: Any) -> None:
        self.manager, self.input, self.name, self.run_id = manager, input, name, run_id
        self.run: Any = None

    def start(self) -> None:
        self.run = self.manager.on_chain_start(None, self.input, name=self.name, run_id=self.run_id)

    async def astart(self) -> None:
        self.run = await self.manager.on_chain_start(None, self.input, name=self.name, run_id=self.run_id)

    def child(self, step: int) -> Any:
        return self.run.get_child(f"graph:step:{step}")

    def end(self, output: Any, error: BaseException | None) -> Any:
        """The run's end event (a coroutine for async runs)."""
        if error is not None:
            return self.run.on_chain_error(error)
        return self.run.on_chain_end(output)


def start_graph_run(graph: Any, loop: Any, input: Any, *, subgraphs: bool, is_async: bool) -> GraphRun | None:
    """A GraphRun when LangChain callbacks are in play (configured callbacks, an enclosing
    LangChain run, LangSmith tracing, or ``stream_mode="messages"``), else None: runs without
    them do no callback work at all. Sets ``loop.lc_run`` and ``loop.lc_messages``."""
    if not loaded():
        return None
    from langchain_core.runnables.config import (
        get_async_callback_manager_for_config,
        get_callback_manager_for_config,
        var_child_runnable_config,
    )

    config = loop.config
    callbacks = config.get("callbacks")
    if callbacks is None and not loop.is_subgraph:
        parent = var_child_runnable_config.get()  # called inside a LangChain Runnable
        callbacks = parent.get("callbacks") if parent else None
    handler = None
    if "messages" in loop.modes and loop.sink is not None and not _has_handler(callbacks):
        # a subgraph streamed with its parent inherits the parent's handler: one is enough
        handler = messages_handler(loop.sink, subgraphs, loop.ns_tuple)
    if not callbacks and handler is None and not _tracing_env():
        return None
    cfg = {**config, "callbacks": callbacks}
    cfg.pop("run_name", None)
    make = get_async_callback_manager_for_config if is_async else get_callback_manager_for_config
    manager = make(cfg)
    if handler is not None:
        manager.add_handler(handler, inherit=True)
    manager.add_metadata({"ls_integration": "langgraph"}, inherit=True)
    loop.lc_run = run = GraphRun(manager, input, config.get("run_name") or graph.name, config.get("run_id"))
    loop.lc_messages = any(isinstance(h, _handler_class()) for h in manager.handlers)
    return run


# configurable keys LangGraph copies into the metadata of a node's runs (tracing shows them)
_PROPAGATED = ("thread_id", "checkpoint_id", "checkpoint_ns", "task_id", "run_id",
               "assistant_id", "graph_id")


def _children(run: Any, cfg: dict[str, Any]) -> Any:
    """The callback manager for runs inside a node: its run's children, with the propagated
    configurable keys in their metadata (as LangGraph shows them on a model's run)."""
    child = run.get_child()
    conf, meta = cfg.get("configurable") or {}, cfg.get("metadata") or {}
    extra = {k: conf[k] for k in _PROPAGATED if conf.get(k) and k not in meta}
    if extra:
        child.add_metadata(extra, inherit=True)
    return child


def call_node(func: Any, inp: Any, task: Any) -> Any:
    """Run a sync node as a child run of the graph run, with LangChain's context set so chat
    models called inside (with or without the config argument) report to it."""
    from langchain_core.runnables.config import get_callback_manager_for_config, var_child_runnable_config

    parent_cfg = task.config
    run = get_callback_manager_for_config(parent_cfg).on_chain_start(None, inp, name=task.name)
    task._config = cfg = {**parent_cfg, "callbacks": _children(run, parent_cfg)}
    token = var_child_runnable_config.set(cfg)
    try:
        out = func(inp, task)
    except BaseException as exc:
        run.on_chain_error(exc)
        raise
    finally:
        var_child_runnable_config.reset(token)
        task._config = parent_cfg
    run.on_chain_end(out)
    return out


async def acall_node(afunc: Any, inp: Any, task: Any) -> Any:
    """Async twin of ``call_node``."""
    from langchain_core.runnables.config import (
        get_async_callback_manager_for_config,
        var_child_runnable_config,
    )

    parent_cfg = task.config
    manager = get_async_callback_manager_for_config(parent_cfg)
    run = await manager.on_chain_start(None, inp, name=task.name)
    task._config = cfg = {**parent_cfg, "callbacks": _children(run, parent_cfg)}
    token = var_child_runnable_config.set(cfg)
    try:
        out = await afunc(inp, task)
    except BaseException as exc:
        await run.on_chain_error(exc)
        raise
    finally:
        var_child_runnable_config.reset(token)
        task._config = parent_cfg
    await run.on_chain_end(out)
    return out


_HANDLER: Any = None


def _handler_class() -> Any:
    """The ``stream_mode="messages"`` callback handler class (defined once LangChain is in)."""
    global _HANDLER
    if _HANDLER is not None:
        return _HANDLER
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk

    try:  # the marker that makes chat models stream tokens even when called with invoke()
        from langchain_core.tracers._streaming import _StreamingCallbackHandler as streaming
    except ImportError:  # pragma: no cover - older langchain-core
        streaming = object

    base = lc().BaseMessage  # type: ignore[union-attr]

    def graph_ns(metadata: dict[str, Any]) -> tuple[str, ...]:
        return tuple(metadata["langgraph_checkpoint_ns"].split("|"))[:-1]

    def messages_in(value: Any) -> list[Any]:
        """Messages in a node's input or output: itself, a list, or a state's fields."""
        if isinstance(value, base):
            return [value]
        if isinstance(value, (list, tuple)):
            return [v for v in value if isinstance(v, base)]
        if isinstance(value, dict):
            fields = value.values()
        elif hasattr(value, "__dataclass_fields__") or hasattr(type(value), "model_fields"):
            fields = [getattr(value, k) for k in getattr(type(value), "model_fields", None)
                      or value.__dataclass_fields__]
        else:
            return []
        out = []
        for v in fields:
            if isinstance(v, base):
                out.append(v)
            elif isinstance(v, (list, tuple)):
                out.extend(x for x in v if isinstance(x, base))
        return out

    class MessagesHandler(BaseCallbackHandler, streaming):  # type: ignore[misc,valid-type]
        """Streams chat-model tokens and messages nodes return as ``messages`` chunks."""

        run_inline = True  # called in the thread producing the event: chunks stay in order

        def __init__(self, sink: Any, subgraphs: bool, own_ns: tuple[str, ...]) -> None:
            self.sink, self.subgraphs, self.own_ns = sink, subgraphs, own_ns
            self.runs: dict[Any, tuple[tuple[str, ...], dict[str, Any]]] = {}
            self.seen: set[str] = set()

        def tap_output_aiter(self, run_id: Any, output: Any) -> Any:
            return output

        def tap_output_iter(self, run_id: Any, output: Any) -> Any:
            return output

        def _watch(self, run_id: Any, metadata: dict[str, Any] | None) -> bool:
            if not metadata or "langgraph_checkpoint_ns" not in metadata:
                return False
            ns = graph_ns(metadata)
            if ns != self.own_ns and not self.subgraphs:
                return False
            self.runs[run_id] = (ns, metadata)
            return True

        def _emit(self, run_id: Any, message: Any, dedupe: bool) -> None:
            if dedupe and message.id in self.seen:
                return
            if message.id is None:
                import uuid

                message.id = str(uuid.uuid4())
            self.seen.add(message.id)
            ns, meta = self.runs[run_id]
            self.sink((ns, "messages", (message, meta)))

        def push(self, message: Any, metadata: dict[str, Any]) -> None:
            """Stream a message a node pushed (``push_message``) now, unless its graph is a
            subgraph this stream does not cover."""
            ns = graph_ns(metadata)
            if self.subgraphs or ns == self.own_ns:
                self.seen.add(message.id)
                self.sink((ns, "messages", (message, metadata)))

        def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any,
                                tags: list[str] | None = None,
                                metadata: dict[str, Any] | None = None, **kw: Any) -> None:
            if not tags or TAG_NOSTREAM not in tags:
                self._watch(run_id, metadata)

        def on_llm_new_token(self, token: str, *, chunk: Any = None, run_id: Any, **kw: Any) -> None:
            if run_id in self.runs and isinstance(chunk, ChatGenerationChunk):
                self._emit(run_id, chunk.message, dedupe=False)

        def on_llm_end(self, response: Any, *, run_id: Any, **kw: Any) -> None:
            if run_id in self.runs:
                gens = response.generations
                if gens and gens[0] and isinstance(gens[0][0], ChatGeneration):
                    self._emit(run_id, gens[0][0].message, dedupe=True)
                del self.runs[run_id]

        def on_llm_error(self, error: BaseException, *, run_id: Any, **kw: Any) -> None:
            self.runs.pop(run_id, None)

        def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any,
                           tags: list[str] | None = None,
                           metadata: dict[str, Any] | None = None, **kw: Any) -> None:
            if (metadata and kw.get("name") == metadata.get("langgraph_node")
                    and (not tags or TAG_HIDDEN not in tags) and self._watch(run_id, metadata)):
                self.seen.update(m.id for m in messages_in(inputs) if m.id is not None)

        def on_chain_end(self, outputs: Any, *, run_id: Any, **kw: Any) -> None:
            if run_id in self.runs:
                for m in messages_in(outputs):
                    self._emit(run_id, m, dedupe=True)
                del self.runs[run_id]

        def on_chain_error(self, error: BaseException, *, run_id: Any, **kw: Any) -> None:
            self.runs.pop(run_id, None)

    _HANDLER = MessagesHandler
    return _HANDLER


def _has_handler(callbacks: Any) -> bool:
    if not callbacks or _HANDLER is None:
        return False
    handlers = callbacks if isinstance(callbacks, list) else getattr(callbacks, "handlers", ())
    return any(isinstance(h, _HANDLER) for h in handlers)


def push_to_stream(config: dict[str, Any], message: Any, metadata: dict[str, Any]) -> bool:
    """Hand a pushed message to the run's ``messages`` handler; False when the run has none
    (no LangChain callbacks: the engine streams it itself)."""
    callbacks = config.get("callbacks")
    if callbacks is None or _HANDLER is None:
        return False
    handlers = callbacks if isinstance(callbacks, list) else getattr(callbacks, "handlers", ())
    found = False
    for handler in handlers:
        if isinstance(handler, _HANDLER):
            handler.push(message, metadata)
            found = True
    return found


def messages_handler(sink: Any, subgraphs: bool, own_ns: tuple[str, ...]) -> Any:
    """A callback handler that emits ``(namespace, "messages", (message, metadata))``."""
    return _handler_class()(sink, subgraphs, own_ns)


# --- idle timeouts: LangChain callback events inside a node count as its progress ----------

_PROGRESS: Any = None


def _progress_class() -> Any:
    global _PROGRESS
    if _PROGRESS is None:
        from langchain_core.callbacks import BaseCallbackHandler

        class ProgressHandler(BaseCallbackHandler):
            """Calls ``touch()`` on every callback event of the runs under a timed node."""

            run_inline = True

            def __init__(self, touch: Any) -> None:
                self.touch = touch

            def _event(self, *args: Any, **kwargs: Any) -> None:
                self.touch()

            on_llm_start = on_chat_model_start = on_llm_new_token = on_llm_end = _event
            on_chain_start = on_chain_end = on_tool_start = on_tool_end = _event
            on_retriever_start = on_retriever_end = on_custom_event = on_text = _event

        _PROGRESS = ProgressHandler
    return _PROGRESS


async def acall_with_progress(afunc: Any, inp: Any, task: Any, touch: Any) -> Any:
    """``afunc(inp, task)`` with a handler calling ``touch`` on every LangChain callback
    event of the node (model tokens, tool and chain runs), whether the node passes its config
    on or relies on LangChain's context (as LangGraph's ``refresh_on="auto"``)."""
    from langchain_core.runnables.config import var_child_runnable_config

    handler = _progress_class()(touch)
    parent = task.config
    callbacks = parent.get("callbacks")
    if callbacks is None:
        callbacks = [handler]
    elif isinstance(callbacks, list):
        callbacks = [*callbacks, handler]
    else:  # a callback manager (a traced run): a copy with the handler, inherited by children
        callbacks = callbacks.copy()
        callbacks.add_handler(handler, inherit=True)
    task._config = cfg = {**parent, "callbacks": callbacks}
    token = var_child_runnable_config.set(cfg)
    try:
        return await afunc(inp, task)
    finally:
        var_child_runnable_config.reset(token)
        task._config = parent
