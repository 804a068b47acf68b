"""Turning a StateGraph builder into engine nodes and channels."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from waypoint._langchain import is_runnable, runnable_node
from waypoint.channels.binop import BinaryOperatorAggregate
from waypoint.channels.ephemeral_value import EphemeralValue
from waypoint.channels.last_value import LastValueAfterFinish
from waypoint.channels.named_barrier_value import NamedBarrierValue, NamedBarrierValueAfterFinish
from waypoint.channels.topic import Topic
from waypoint.errors import InvalidGraphError, InvalidUpdateError
from waypoint.graph._called import called_subgraph, calls_tasks
from waypoint.graph.branch import Branch, adapt, branch_channel, is_async_callable
from waypoint.graph.message import MESSAGE_REDUCERS
from waypoint.graph.schema import ROOT, make_reader
from waypoint.pregel.constants import END, START, TASKS
from waypoint.pregel.main import Pregel
from waypoint.pregel.node import PregelNode, Task, traced
from waypoint.pregel.runnable import register
from waypoint.types import Send

if TYPE_CHECKING:
    from waypoint.graph.state import CompiledStateGraph, StateGraph


def _identity(inp: Any, task: Task) -> Any:
    return inp


async def _aidentity(inp: Any, task: Task) -> Any:
    return inp


def _writers(
    name: str,
    keys: frozenset[str],
    static: list[tuple[str, Any]],
    branches: list[Branch],
    nodes: Any,
    state_reader: Any,
) -> tuple[Any, Any]:
    """The sync writer of a node and, when a routing function is async, its async twin."""
    from waypoint.graph.state import output_writes

    def write(task: Task, out: Any) -> None:
        writes = task.writes
        output_writes(out, name, keys, nodes, writes)
        if static:
            writes.extend(static)
        for br in branches:
            res = br.call(task.read_fresh(state_reader), task)
            if inspect.isawaitable(res):
                res.close()  # type: ignore[union-attr]
                raise InvalidUpdateError(
                    f"Routing function of {name!r} is async: run the graph with ainvoke/astream"
                )
            writes.extend(br.writes(res, nodes))

    if not any(br.is_async for br in branches):
        return write, None

    async def awrite(task: Task, out: Any) -> None:
        writes = task.writes
        output_writes(out, name, keys, nodes, writes)
        if static:
            writes.extend(static)
        for br in branches:
            res = br.call(task.read_fresh(state_reader), task)
            if inspect.isawaitable(res):
                res = await res
            writes.extend(br.writes(res, nodes))

    return write, awrite


DEFAULT_ERROR_HANDLER = "__default_error_handler__"


def with_defaults(builder: StateGraph) -> dict[str, Any]:
    """The builder's node specs with ``set_node_defaults`` applied (the builder is left as
    it is): retry and timeout for every node, cache policy and error handler for regular
    nodes only; a default error handler becomes node ``__default_error_handler__``."""
    from copy import copy

    from waypoint.graph.state import NodeSpec

    defaults = builder.node_defaults
    if not defaults:
        return builder.nodes
    specs: dict[str, Any] = {}
    handler = defaults.get("error_handler")
    if handler is not None:
        if DEFAULT_ERROR_HANDLER in builder.nodes:
            raise InvalidGraphError(f"A node named {DEFAULT_ERROR_HANDLER!r} already exists")
        specs[DEFAULT_ERROR_HANDLER] = NodeSpec(handler, None, None, None, None, is_error_handler=True)
    for name, spec in builder.nodes.items():
        spec = copy(spec)
        if spec.retry_policy is None:
            spec.retry_policy = defaults.get("retry_policy")
        if spec.timeout is None:
            spec.timeout = defaults.get("timeout")
        if not spec.is_error_handler:
            if spec.cache_policy is None:
                spec.cache_policy = defaults.get("cache_policy")
            if spec.error_handler is None and handler is not None:
                spec.error_handler = DEFAULT_ERROR_HANDLER
        specs[name] = spec
    if DEFAULT_ERROR_HANDLER in specs:  # after the nodes it serves, as LangGraph lists it
        specs[DEFAULT_ERROR_HANDLER] = specs.pop(DEFAULT_ERROR_HANDLER)
    return specs


def compile_graph(
    builder: StateGraph,
    *,
    checkpointer: Any,
    store: Any,
    cache: Any = None,
    interrupt_before: Any,
    interrupt_after: Any,
    debug: bool,
    name: str,
) -> CompiledStateGraph:
    from waypoint.graph.state import CompiledStateGraph

    state_keys = builder.schema_keys[builder.state_schema]
    write_keys = frozenset(builder.channels)
    channels: dict[str, Any] = {k: ch.copy() for k, ch in builder.channels.items()}
    channels[START] = EphemeralValue(Any, key=START)
    channels[TASKS] = Topic(Send, accumulate=False, key=TASKS)
    specs = with_defaults(builder)
    for node, spec in specs.items():
        key = branch_channel(node)
        channels[key] = LastValueAfterFinish(Any, key=key) if spec.defer else EphemeralValue(Any, guard=False, key=key)
    static: dict[str, list[tuple[str, Any]]] = {}
    triggers: dict[str, list[str]] = {n: [branch_channel(n)] for n in specs}
    for src, dst in builder.edges:
        if dst != END:
            static.setdefault(src, []).append((branch_channel(dst), None))
    for starts, dst in builder.waiting_edges:
        key = f"join:{'+'.join(starts)}:{dst}"
        if key not in channels:
            deferred = dst != END and builder.nodes[dst].defer
            channels[key] = (NamedBarrierValueAfterFinish if deferred else NamedBarrierValue)(str, set(starts), key=key)
            if dst != END:
                triggers[dst].append(key)
        for s in starts:
            static.setdefault(s, []).append((key, s))
    names = frozenset(specs) | {START}
    state_reader = make_reader(builder.state_schema, state_keys)
    input_keys = frozenset(k for k in builder.schema_keys[builder.input_schema] if k in channels)

    def branches_of(src: str) -> list[Branch]:
        return list(builder.branches.get(src, {}).values())

    nodes: dict[str, PregelNode] = {}
    write, awrite = _writers(
        START, input_keys, static.get(START, []), branches_of(START), names, state_reader
    )
    nodes[START] = PregelNode(
        START, triggers=(START,), func=_identity, afunc=_aidentity,
        read=lambda values: values.get(START), write=write, awrite=awrite,
    )
    for node_name, spec in specs.items():
        schema = spec.input_schema or builder.state_schema
        keys = builder.schema_keys[schema]
        fn = spec.fn
        if isinstance(fn, Pregel):
            func: Any = (lambda sub: lambda inp, task: sub.invoke(inp, task.config))(fn)
            afunc: Any = (lambda sub: lambda inp, task: sub.ainvoke(inp, task.config))(fn)
            subgraph = fn if fn.checkpointer is not False else None  # False keeps no state
        elif is_runnable(fn):
            (func, afunc), subgraph = runnable_node(fn), None
        elif is_async_callable(fn):
            func, afunc, subgraph = None, adapt(fn), called_subgraph(fn, Pregel)
        else:
            func, afunc, subgraph = adapt(fn), None, called_subgraph(fn, Pregel)
        if spec.timeout is not None and afunc is None:
            raise InvalidGraphError(
                f"Node {node_name!r} has a timeout but is sync: timeouts need an async node "
                "(async def), since sync Python code cannot be cancelled safely in-process"
            )
        func, afunc = traced(func, afunc)
        write, awrite = _writers(
            node_name, write_keys, static.get(node_name, []), branches_of(node_name), names, state_reader
        )
        nodes[node_name] = PregelNode(
            node_name,
            triggers=triggers[node_name],
            func=func,
            afunc=afunc,
            read=make_reader(schema, keys),  # a Send's argument reaches the node as given, as in LangGraph
            write=write,
            awrite=awrite,
            retry_policy=spec.retry_policy,
            subgraph=subgraph,
            metadata=spec.metadata,
            cache_policy=spec.cache_policy,
            bound=fn,
            timeout=spec.timeout,
            error_handler=spec.error_handler,
        )
    graph = CompiledStateGraph(
        nodes=nodes,
        channels=channels,
        output_keys=[k for k in builder.schema_keys[builder.output_schema] if k not in builder.managed],
        state_keys=write_keys,
        checkpointer=checkpointer,
        store=store,
        cache=cache,
        interrupt_before=interrupt_before,
        interrupt_after=interrupt_after,
        name=name,
        debug=debug,
    )
    graph.builder = builder
    graph.managed = dict(builder.managed)
    graph.context_schema = builder.context_schema
    register(type(graph))  # a Runnable for LangChain when LangChain is already imported
    if any(calls_tasks(spec.fn) for spec in specs.values()):
        graph.inline_ok = False  # nodes call @task functions: see waypoint.pregel.call
    graph.stream_mode = "updates"  # a StateGraph streams updates by default, as LangGraph's
    # values (get_state, stream_mode="values") show every channel of every schema, node input
    # schemas included, as LangGraph's do
    graph.state_order = state_keys if state_keys == (ROOT,) else tuple(builder.channels)
    graph.write_keys = write_keys
    graph.message_keys = frozenset(
        k for k, ch in channels.items()
        if isinstance(ch, BinaryOperatorAggregate) and ch.operator in MESSAGE_REDUCERS
    )
    return graph
