"""``StateGraph``: build a graph of nodes sharing a typed state, then ``compile()`` it."""

from __future__ import annotations

import inspect
import sys
from datetime import timedelta
import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any, get_type_hints

from waypoint._langchain import is_runnable
from waypoint.channels.base import BaseChannel
from waypoint.errors import InvalidGraphError, InvalidUpdateError, ParentCommand, UnresolvedAnnotationError
from waypoint.graph.branch import Branch, branch_channel, check_destination, literal_destinations
from waypoint.managed.base import is_managed_value
from waypoint.graph.schema import ROOT, ROOT_KEYS, channels_for, field_types, is_root_schema, output_items
from waypoint.pregel.constants import END, NS_END, NS_SEP, START, TASKS
from waypoint.pregel.main import Pregel
from waypoint.types import Command, RetryPolicy, Send, TimeoutPolicy
from waypoint.warnings import LangGraphDeprecatedSinceV05, LangGraphDeprecatedSinceV10


class NodeSpec:
    """A node as added to the builder."""

    def __init__(
        self, fn: Any, input_schema: Any, retry_policy: Any, metadata: Any, ends: Any,
        cache_policy: Any = None,
        defer: bool = False,
        timeout: Any = None,
        error_handler: str | None = None,
        is_error_handler: bool = False,
    ) -> None:
        self.fn = fn
        self.defer = defer
        self.timeout = timeout  # a coerced TimeoutPolicy or None
        self.error_handler = error_handler  # name of the node handling this node's errors
        self.is_error_handler = is_error_handler
        self.input_schema = input_schema
        self.retry_policy = retry_policy
        self.metadata = metadata
        self.ends = ends
        self.cache_policy = cache_policy


def _warn_renamed(kwargs: dict[str, Any], renamed: dict[str, str]) -> None:
    """LangGraph's deprecation warning for each old argument name used (warned from the
    caller of StateGraph()/add_node())."""
    for old, new in renamed.items():
        if old in kwargs:
            warnings.warn(
                LangGraphDeprecatedSinceV05(f"`{old}` is deprecated: use `{new}`"), stacklevel=3
            )


def _check_name(name: str) -> None:
    if name in (START, END):
        raise InvalidGraphError(f"Node name {name!r} is reserved; choose another name")
    for ch in (NS_SEP, NS_END):
        if ch in name:
            raise InvalidGraphError(f"Node name {name!r} must not contain {ch!r} (reserved)")


def _coerce_timeout(timeout: Any) -> Any:
    try:
        return TimeoutPolicy.coerce(timeout)
    except ValueError as exc:
        raise InvalidGraphError(f"timeout={timeout!r}: {exc}") from None


def _check_handler(handler: Any, name: str) -> None:
    if not callable(handler) or isinstance(handler, (str, bytes)):
        raise InvalidGraphError(f"error_handler of {name!r} must be a function, got {handler!r}")


def _check_cache_policy(policy: Any) -> None:
    from waypoint.types import CachePolicy

    if policy is not None and not isinstance(policy, CachePolicy):
        raise InvalidGraphError(
            f"cache_policy must be a waypoint.types.CachePolicy, got {policy!r}; "
            "e.g. add_node(fn, cache_policy=CachePolicy(ttl=60))"
        )


def _first_param_schema(fn: Any, state_schema: Any, localns: dict[str, Any], globalns: dict[str, Any]) -> Any:
    try:
        params = list(inspect.signature(fn).parameters.values())
        hints = get_type_hints(fn, localns=localns) if inspect.isfunction(fn) or inspect.ismethod(fn) else {}
    except Exception:
        return None
    if not params:
        return None
    hint = hints.get(params[0].name)
    if isinstance(hint, type) and hint is not state_schema and not is_root_schema(hint):
        try:
            if field_types(hint, localns, globalns):
                return hint
        except UnresolvedAnnotationError:
            raise
        except Exception:
            return None
    return None


class StateGraph:
    """A graph whose nodes read the shared state and return updates to it.

    ``StateGraph(State)``, optionally with ``input_schema=`` / ``output_schema=`` (LangGraph's
    older ``input=`` / ``output=`` are accepted too).
    """

    def __init__(
        self,
        state_schema: Any = None,
        config_schema: Any = None,
        *,
        input_schema: Any = None,
        output_schema: Any = None,
        context_schema: Any = None,
        **kwargs: Any,
    ) -> None:
        _warn_renamed(kwargs, {"input": "input_schema", "output": "output_schema"})
        if config_schema is not None:
            warnings.warn(
                LangGraphDeprecatedSinceV10("`config_schema` is deprecated: use `context_schema`"),
                stacklevel=2,
            )
        input_schema = input_schema or kwargs.pop("input", None)
        output_schema = output_schema or kwargs.pop("output", None)
        if kwargs:
            raise TypeError(f"StateGraph() got unexpected arguments {sorted(kwargs)}")
        if state_schema is None:
            if input_schema is None or output_schema is None:
                raise InvalidGraphError("StateGraph needs a state schema (or both input and output schemas)")
        self.state_schema = state_schema if state_schema is not None else input_schema
        self.input_schema = input_schema or self.state_schema
        self.output_schema = output_schema or self.state_schema
        self.config_schema = config_schema
        self.context_schema = context_schema
        self.channels: dict[str, BaseChannel] = {}
        self.managed: dict[str, Any] = {}  # managed value keys (RemainingSteps...) -> spec
        self.schema_keys: dict[Any, tuple[str, ...]] = {}
        # schemas defined inside a function resolve their annotations in the caller's scope
        caller = sys._getframe(1)
        self._localns = dict(caller.f_locals)
        self._globalns = caller.f_globals
        self._add_schema(self.state_schema)
        self._add_schema(self.input_schema, allow_managed=False)
        self._add_schema(self.output_schema, allow_managed=False)
        self.nodes: dict[str, NodeSpec] = {}
        self.edges: list[tuple[str, str]] = []
        self.waiting_edges: list[tuple[tuple[str, ...], str]] = []
        self.branches: dict[str, dict[str, Branch]] = {}
        self.node_defaults: dict[str, Any] = {}  # set_node_defaults()

    def _add_schema(self, schema: Any, allow_managed: bool = True) -> None:
        if schema in self.schema_keys:
            return
        chans = channels_for(schema, self._localns, self._globalns)
        managed = {k: v for k, v in chans.items() if is_managed_value(v)}
        if managed and not allow_managed:
            raise InvalidGraphError(
                f"Managed values {sorted(managed)} of {getattr(schema, '__name__', schema)!r} are "
                "not allowed in an input or output schema: declare them in the state schema only"
            )
        self.schema_keys[schema] = tuple(chans)
        for key, ch in chans.items():
            if key in managed:
                self.managed.setdefault(key, ch)
            else:
                self.channels.setdefault(key, ch)

    # --- building ----------------------------------------------------------------------------

    def add_node(
        self,
        node: str | Callable[..., Any],
        action: Any = None,
        *,
        defer: bool = False,
        metadata: dict[str, Any] | None = None,
        input_schema: Any = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        cache_policy: Any = None,
        error_handler: Callable[..., Any] | None = None,
        destinations: dict[str, str] | tuple[str, ...] | None = None,
        timeout: float | timedelta | TimeoutPolicy | None = None,
        **kwargs: Any,
    ) -> StateGraph:
        """Add a node: ``add_node(fn)`` names it after the function; ``add_node(name, fn)``.
        ``fn`` takes the state (plus optionally config, and keyword-only ``store`` /
        ``writer``), or is a compiled graph (a subgraph).

        ``defer``: run only once the graph has nothing else to run. ``cache_policy``: reuse
        results for equal inputs (needs ``compile(cache=...)``). ``timeout``: a
        ``TimeoutPolicy`` (or seconds) per attempt, async nodes only. ``error_handler``: a
        function run instead of failing the run when this node fails (after retries); it gets
        the node's input (and ``error: NodeError``) and returns an update or a Command."""
        _warn_renamed(kwargs, {"input": "input_schema", "retry": "retry_policy"})
        input_schema = input_schema or kwargs.pop("input", None)
        retry_policy = retry_policy or kwargs.pop("retry", None)
        if kwargs:
            raise TypeError(f"add_node() got unexpected arguments {sorted(kwargs)}")
        _check_cache_policy(cache_policy)
        timeout = _coerce_timeout(timeout)
        if isinstance(node, str):
            name, fn = node, action
        else:
            fn = node
            name = getattr(fn, "name", None) if isinstance(fn, Pregel) else None
            if name is None and is_runnable(fn):  # a LangChain Runnable: its own name
                name = fn.get_name()
            name = name or getattr(fn, "__name__", None) or type(fn).__name__
        plain = not isinstance(fn, Pregel) and not is_runnable(fn)
        if fn is None or not callable(fn) and plain:
            raise InvalidGraphError(f"Node {name!r} needs a callable or a compiled graph, got {fn!r}")
        _check_name(name)
        if name in self.nodes:
            raise InvalidGraphError(f"Node {name!r} is already present; node names must be unique")
        if input_schema is None and plain:
            scope = {**self._localns, **sys._getframe(1).f_locals}
            input_schema = _first_param_schema(fn, self.state_schema, scope, self._globalns)
        if input_schema is not None:
            self._localns.update(sys._getframe(1).f_locals)
            self._add_schema(input_schema)
        ends = tuple(destinations) if destinations else (
            literal_destinations(fn) if plain else None
        )
        handler = None
        if error_handler is not None:
            handler = f"__error_handler__{name}"
            if handler in self.nodes:
                raise InvalidGraphError(f"Error handler node {handler!r} already exists")
            _check_handler(error_handler, name)
            self.nodes[handler] = NodeSpec(
                error_handler, input_schema, None, None, None, is_error_handler=True
            )
        self.nodes[name] = NodeSpec(
            fn, input_schema, retry_policy, metadata, ends, cache_policy, bool(defer),
            timeout=timeout, error_handler=handler,
        )
        return self

    def set_node_defaults(
        self,
        *,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        cache_policy: Any = None,
        error_handler: Callable[..., Any] | None = None,
        timeout: float | timedelta | TimeoutPolicy | None = None,
    ) -> StateGraph:
        """Policies for every node that does not set its own in ``add_node`` (applied at
        ``compile()``, not inherited by subgraphs). ``retry_policy`` and ``timeout`` also
        apply to error-handler nodes; ``cache_policy`` and ``error_handler`` only to regular
        nodes (an error handler never handles its own failure)."""
        _check_cache_policy(cache_policy)
        if error_handler is not None:
            _check_handler(error_handler, "every node")
        defaults = self.node_defaults
        if retry_policy is not None:
            defaults["retry_policy"] = retry_policy
        if cache_policy is not None:
            defaults["cache_policy"] = cache_policy
        if error_handler is not None:
            defaults["error_handler"] = error_handler
        if timeout is not None:
            defaults["timeout"] = _coerce_timeout(timeout)
        return self

    def add_edge(self, start_key: str | Sequence[str], end_key: str) -> StateGraph:
        """Run ``end_key`` after ``start_key``; with a list of starts, after all of them."""
        if isinstance(start_key, str):
            if start_key == END:
                raise InvalidGraphError("END cannot be the start of an edge")
            if end_key == START:
                raise InvalidGraphError("START cannot be the end of an edge")
            self.edges.append((start_key, end_key))
        else:
            starts = tuple(start_key)
            if not starts:
                raise InvalidGraphError("add_edge() got an empty list of start nodes")
            if END in starts or end_key == START:
                raise InvalidGraphError("A fan-in edge cannot start at END or end at START")
            self.waiting_edges.append((starts, end_key))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: dict[Hashable, str] | list[str] | None = None,
    ) -> StateGraph:
        """After ``source``, call ``path(state)``: it returns node name(s), Sends, or keys of
        ``path_map``; END (or a path map value END) stops that branch."""
        name = getattr(path, "__name__", None) or "condition"
        branches = self.branches.setdefault(source, {})
        while name in branches:
            name += "_"
        branches[name] = Branch(source, path, path_map)
        return self

    def add_sequence(self, nodes: Sequence[Callable[..., Any] | tuple[str, Callable[..., Any]]]) -> StateGraph:
        """Add nodes chained by edges in the given order."""
        if not nodes:
            raise InvalidGraphError("add_sequence() needs at least one node")
        prev = None
        for item in nodes:
            if isinstance(item, tuple):
                self.add_node(item[0], item[1])
                name = item[0]
            else:
                self.add_node(item)
                name = list(self.nodes)[-1]
            if prev is not None:
                self.add_edge(prev, name)
            prev = name
        return self

    def set_entry_point(self, key: str) -> StateGraph:
        return self.add_edge(START, key)

    def set_conditional_entry_point(self, path: Callable[..., Any], path_map: Any = None) -> StateGraph:
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> StateGraph:
        return self.add_edge(key, END)

    # --- validation and compilation ----------------------------------------------------------

    def validate(self, interrupt: Sequence[str] = ()) -> None:
        known = set(self.nodes)
        for src, dst in self.edges:
            if src != START and src not in known:
                raise InvalidGraphError(f"Edge starts at unknown node {src!r}; add it with add_node first")
            if dst != END and dst not in known:
                raise InvalidGraphError(
                    f"Edge from {src!r} goes to unknown node {dst!r}; add it with add_node first"
                )
        for starts, dst in self.waiting_edges:
            for src in starts:
                if src != START and src not in known:
                    raise InvalidGraphError(f"Edge starts at unknown node {src!r}; add it with add_node first")
            if dst != END and dst not in known:
                raise InvalidGraphError(f"Edge from {list(starts)} goes to unknown node {dst!r}")
        for src, branches in self.branches.items():
            if src != START and src not in known:
                raise InvalidGraphError(f"Conditional edge starts at unknown node {src!r}")
            for br in branches.values():
                for dst in br.destinations() or ():
                    check_destination(src, dst, known)
        for name, spec in self.nodes.items():
            for dst in spec.ends or ():
                check_destination(name, dst, known)
        has_entry = (
            any(s == START for s, _ in self.edges)
            or START in self.branches
            or any(START in starts for starts, _ in self.waiting_edges)
        )
        if not has_entry:
            raise InvalidGraphError(
                "Graph has no entry point: add an edge from START, e.g. "
                "add_edge(START, '<first node>') or set_entry_point('<first node>')"
            )
        for name in interrupt:
            if name != "*" and name not in known:
                raise InvalidGraphError(f"Interrupt node {name!r} is not a node of the graph")

    def compile(
        self,
        checkpointer: Any = None,
        *,
        cache: Any = None,
        store: Any = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        debug: bool = False,
        name: str | None = None,
        lease: Any = None,
    ) -> CompiledStateGraph:
        """Validate the graph and return a runnable ``CompiledStateGraph``.

        ``checkpointer``: a saver; None inherits the parent's when used as a subgraph, False
        disables checkpointing. ``interrupt_before`` / ``interrupt_after``: node names (or
        "*") to pause at. ``lease``: how runs hold their thread (one writer per thread), a
        ``LeasePolicy`` (default ``LeasePolicy()``: reject a second run) or False (no lease).
        """
        ib = interrupt_before or ()
        ia = interrupt_after or ()
        self.validate([*(ib if ib != "*" else ()), *(ia if ia != "*" else ())])
        from waypoint.graph.compiler import compile_graph
        from waypoint.pregel.lease import check_policy
        from waypoint.types import ensure_valid_checkpointer

        ensure_valid_checkpointer(checkpointer)  # a TypeError now, as LangGraph
        if cache is not None and not all(
            callable(getattr(cache, m, None)) for m in ("get", "aget", "set", "aset", "clear", "aclear")
        ):
            raise InvalidGraphError(
                f"compile(cache=...) needs a cache such as waypoint.cache.memory.InMemoryCache(), got {cache!r}"
            )
        policy = check_policy(lease, "compile(lease)")
        graph = compile_graph(
            self, checkpointer=checkpointer, cache=cache, store=store, interrupt_before=ib,
            interrupt_after=ia, debug=debug, name=name or "LangGraph",
        )
        graph.lease_policy = policy
        return graph


class CompiledStateGraph(Pregel):
    """A compiled StateGraph: run it with ``invoke``/``stream`` (and async twins), inspect and
    edit its checkpoints with ``get_state``/``get_state_history``/``update_state``."""

    builder: StateGraph
    output_keys: tuple[str, ...]

    def read_output(self, values: dict[str, Any]) -> Any:
        if self.output_keys == (ROOT,):
            return values.get(ROOT)
        return {k: values[k] for k in self.output_keys if k in values}

    def read_state(self, values: dict[str, Any]) -> Any:
        if self.state_order == (ROOT,) and ROOT in values:
            return values[ROOT]
        return {k: values[k] for k in self.state_order if k in values}

    def writes_to_update(self, writes: list[tuple[str, Any]]) -> Any:
        if self.state_keys != ROOT_KEYS:
            return super().writes_to_update(writes)
        vals = [v for ch, v in writes if ch == ROOT]  # a root state's update is the value itself
        return (vals[0] if len(vals) == 1 else vals) if vals else None

    def task_messages(self, task: Any) -> list[Any]:
        out: list[Any] = []
        for ch, v in task.writes:
            if ch in self.message_keys:
                out.extend(v if isinstance(v, list) else [v])
        return out

    def command_writes(self, cmd: Command) -> list[tuple[str, Any]]:
        return map_command(cmd, self.write_keys, self.nodes)

    def get_graph(self, config: Any = None, *, xray: bool | int = False) -> Any:
        """The graph's nodes and edges (``.draw_mermaid()`` renders Mermaid text); ``xray``
        draws subgraphs' nodes in place of their node (``True``: all levels, ``n``: n levels).
        LangChain's ``Graph`` with ``langchain-core`` installed, as LangGraph returns."""
        from waypoint.graph.drawing import get_graph

        if not isinstance(xray, (bool, int)):
            raise TypeError(f"get_graph(xray=...) takes a bool or an int depth, got {xray!r}")
        return get_graph(self.builder, xray)


def map_command(cmd: Command, keys: frozenset[str], nodes: Any) -> list[tuple[str, Any]]:
    """Channel writes of a Command's update and goto."""
    if cmd.graph == Command.PARENT:
        raise ParentCommand(cmd)
    writes: list[tuple[str, Any]] = []
    upd = cmd.update
    if upd is not None and keys == ROOT_KEYS and (isinstance(upd, dict) or not _is_pairs(upd)):
        writes.append((ROOT, upd))  # a root state's update is the new value itself
    elif upd is not None:
        if isinstance(upd, (dict, list, tuple)):
            items = cmd.update_items()
        else:
            items = output_items(upd, "Command.update")
        writes.extend((k, v) for k, v in items if k in keys)
    for g in cmd.goto_list():
        if isinstance(g, Send):
            if g.node not in nodes:
                raise InvalidUpdateError(f"Command goto Send to unknown node {g.node!r}")
            writes.append((TASKS, g))
        elif g == END:
            continue
        elif g in nodes and g != START:
            writes.append((branch_channel(g), None))
        else:
            known = sorted(n for n in nodes if n != START)
            raise InvalidUpdateError(f"Command goto unknown node {g!r}; nodes: {known}")
    return writes


def _is_pairs(upd: Any) -> bool:
    """A Command update given as a list of (key, value) pairs (LangGraph's test)."""
    return isinstance(upd, (list, tuple)) and all(
        isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) for t in upd
    )


def output_writes(out: Any, name: str, keys: frozenset[str], nodes: Any, writes: list[tuple[str, Any]]) -> None:
    """Append the writes of a node's return value (dict, object, Command(s) or None); with a
    root state (one ``__root__`` channel) any other value is the new root value."""
    if out is None:
        return
    if keys == ROOT_KEYS:
        if isinstance(out, Command):
            writes.extend(map_command(out, keys, nodes))
        elif isinstance(out, (list, tuple)) and any(isinstance(c, Command) for c in out):
            for c in out:
                if isinstance(c, Command):
                    writes.extend(map_command(c, keys, nodes))
                else:
                    writes.append((ROOT, c))
        else:
            writes.append((ROOT, out))
        return
    if type(out) is dict:
        writes.extend((k, v) for k, v in out.items() if k in keys)
    elif isinstance(out, Command):
        writes.extend(map_command(out, keys, nodes))
    elif isinstance(out, (list, tuple)) and out and any(isinstance(c, Command) for c in out):
        for c in out:  # Commands mixed with plain updates (a ToolNode's output)
            if isinstance(c, Command):
                writes.extend(map_command(c, keys, nodes))
            else:
                output_writes(c, name, keys, nodes, writes)
    else:
        items = output_items(out, f"Node {name!r}")
        writes.extend((k, v) for k, v in items if k in keys)



class MessageGraph(StateGraph):
    """Deprecated (as in LangGraph 1.x): a graph whose whole state is one list of messages
    reduced by ``add_messages``; use ``StateGraph`` with a ``messages`` key instead."""

    def __init__(self) -> None:
        from typing import Annotated

        from waypoint.graph.message import add_messages

        warnings.warn(
            LangGraphDeprecatedSinceV10(
                "MessageGraph is deprecated: use StateGraph with a `messages` key "
                "(e.g. MessagesState) instead"
            ),
            stacklevel=2,
        )
        super().__init__(Annotated[list, add_messages])
