"""``Pregel``: a compiled graph's public face — run it, stream it, inspect and edit its state.

Every sync method and its ``a``-twin share their setup and their result handling; they differ
only in how they wait (pattern: engine core with I/O-only edges).
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from typing import Any

from waypoint.channels.base import BaseChannel
from waypoint.channels.binop import BinaryOperatorAggregate
from waypoint.channels.ephemeral_value import EphemeralValue
from waypoint.channels.topic import Topic
from waypoint.channels.untracked_value import UntrackedValue
from waypoint.config import var_task
from waypoint.errors import (
    ConfigError,
    InvalidGraphError,
    GraphDrained,
    GraphInterrupt,
    InvalidUpdateError,
    ParentCommand,
    ParentCommandAtRootError,
)
from waypoint.pregel.algo import persistent_ns
from waypoint.pregel.call import call_result, is_call
from waypoint.pregel.constants import (
    CONF,
    START,
    K_CHECKPOINTER,
    K_DURABILITY,
    K_CHECKPOINT_MAP,
    K_PARENT,
    K_STORE,
    K_STREAM,
    K_TARGETS,
)
from waypoint.pregel.inspect import InspectMixin
from waypoint.pregel.lease import aend_lease, atake_lease, end_lease, take_lease
from waypoint.pregel.loop import Loop
from waypoint.pregel.node import PregelNode
from waypoint._langchain import start_graph_run
from waypoint.pregel.runnable import RunnableMixin
from waypoint.pregel.runner import AsyncIO, SyncIO, adrive, async_sink, drive
from waypoint.runtime import with_context
from waypoint.types import Command, LeasePolicy

_MODES = frozenset({"values", "updates", "checkpoints", "tasks", "debug", "messages", "custom"})
_STATIC = ("interrupt_before", "interrupt_after")


def _refuse_extra(method: str, kwargs: dict[str, Any]) -> None:
    """LangGraph run options waypoint does not have are errors, never silently dropped."""
    if kwargs:
        raise TypeError(f"{method}() got arguments waypoint does not support: {sorted(kwargs)}")


class Pregel(RunnableMixin, InspectMixin):
    """A compiled graph of nodes and channels."""

    context_schema: Any = None  # what ``context=`` dicts are turned into (``StateGraph(context_schema=)``)

    stream_mode: str = "values"  # what ``stream`` yields without ``stream_mode=``
    lease_policy: Any = LeasePolicy()  # one writer per thread (``compile(lease=...)``); None: no lease

    managed: dict[str, Any] = {}  # state keys filled by the engine (RemainingSteps...): never written
    inline_ok: bool = True  # a lone task may run on the driver's own thread (see pregel/call.py)

    input_channels: Any = START  # where ``invoke(input)`` writes (a StateGraph: its START)
    stream_keys: tuple[str, ...] | None = None  # what the values stream shows (None: the output)
    output_single: str | None = None  # ``output_channels`` given as one channel name

    def __init__(
        self,
        *,
        nodes: dict[str, Any],
        channels: dict[str, BaseChannel] | None,
        output_keys: Sequence[str] | None = None,
        state_keys: Sequence[str] | None = None,
        checkpointer: Any = None,
        store: Any = None,
        interrupt_before: Any = (),
        interrupt_after: Any = (),
        name: str = "LangGraph",
        debug: bool = False,
        config: dict[str, Any] | None = None,
        cache: Any = None,
        cache_policy: Any = None,
        input_channels: str | Sequence[str] | None = None,
        output_channels: str | Sequence[str] | None = None,
        stream_channels: str | Sequence[str] | None = None,
        stream_mode: str | None = None,
        retry_policy: Any = (),
        context_schema: Any = None,
        interrupt_before_nodes: Any = None,
        interrupt_after_nodes: Any = None,
        auto_validate: bool = True,
    ) -> None:
        """A graph of nodes and channels. Builders (``StateGraph``) make one; the low-level
        API makes one directly: ``Pregel(nodes={"n": NodeBuilder()...}, channels={...},
        input_channels="a", output_channels="b")`` (see ``waypoint.pregel.builder``)."""
        if input_channels is not None or output_channels is not None:
            from waypoint.pregel.lowlevel import setup

            nodes, channels, output_keys, state_keys = setup(
                self, nodes, channels or {}, input_channels, output_channels, stream_channels,
                retry_policy, auto_validate,
            )
            if stream_mode is not None:
                self.stream_mode = stream_mode
            if context_schema is not None:
                self.context_schema = context_schema
        elif output_keys is None or state_keys is None:
            raise InvalidGraphError("Pregel(...) needs input_channels= and output_channels=")
        if interrupt_before_nodes is not None:
            interrupt_before = interrupt_before_nodes
        if interrupt_after_nodes is not None:
            interrupt_after = interrupt_after_nodes
        self.nodes = nodes
        self.cache = cache
        self.cache_policy = cache_policy
        self.channels = channels
        self.output_keys = tuple(output_keys)
        self.state_keys = frozenset(state_keys)
        self.checkpointer = checkpointer
        self.store = store
        self.interrupt_before_nodes = interrupt_before
        self.interrupt_after_nodes = interrupt_after
        self.name = name
        self.debug = debug
        self.config = config or {}
        t2n: dict[str, list[str]] = {}
        for node in nodes.values():
            for ch in node.triggers:
                t2n.setdefault(ch, []).append(node.name)
        self.trigger_to_nodes = {k: tuple(v) for k, v in t2n.items()}
        self.node_order = tuple(nodes)
        self.node_index = {n: i for i, n in enumerate(nodes)}
        self.step_scoped = tuple(
            k
            for k, ch in channels.items()
            if isinstance(ch, EphemeralValue) or (isinstance(ch, Topic) and not ch.accumulate)
        )
        # channels that wait for the run's end (deferred nodes' triggers): none, no cost
        self.finish_channels = tuple(
            k for k, ch in channels.items() if type(ch).finish is not BaseChannel.finish
        )
        self.untracked = tuple(k for k, ch in channels.items() if isinstance(ch, UntrackedValue))
        self.has_error_handlers = any(n.error_handler for n in nodes.values())
        self.log_channels = frozenset(
            k for k, ch in channels.items() if isinstance(ch, BinaryOperatorAggregate)
        )

    # --- hooks a builder may refine ----------------------------------------------------------

    def read_output(self, values: dict[str, Any]) -> Any:
        if self.output_single is not None:
            return values.get(self.output_single)
        return {k: values[k] for k in self.output_keys if k in values}

    def input_writes(self, input: Any) -> list[tuple[str, Any]]:
        """The channel writes of a run's input."""
        chans = self.input_channels
        if isinstance(chans, str):
            return [(chans, input)]
        if not isinstance(input, dict):
            raise InvalidUpdateError(
                f"This graph's input_channels are {list(chans)}: pass a dict of them, got {input!r}"
            )
        return [(k, v) for k, v in input.items() if k in chans]

    def read_values(self, values: dict[str, Any]) -> Any:
        """What the ``values`` stream shows of the channel values."""
        keys = self.stream_keys
        if keys is None:
            return self.read_output(values)
        return {k: values[k] for k in keys if k in values}

    def read_state(self, values: dict[str, Any]) -> Any:
        return {k: v for k, v in values.items() if k in self.state_keys}

    def writes_to_update(self, writes: list[tuple[str, Any]]) -> Any:
        keys = self.state_keys
        upd = {ch: v for ch, v in writes if ch in keys}
        if len(upd) < sum(1 for ch, _ in writes if ch in keys):
            # a key written twice (a list of updates): one dict per write, as LangGraph
            return [{ch: v} for ch, v in writes if ch in keys]
        return upd or None

    def task_update(self, task: Any) -> Any:
        if is_call(task):  # a called task's update is its return value
            return call_result(task)
        writes = [w for w in task.writes if w[0] in self.state_keys]
        if len({ch for ch, _ in writes}) < len(writes):
            # a channel written twice (a list of Commands and updates): one update per write,
            # as LangGraph streams it, so no write is hidden behind a later one
            return [self.writes_to_update([w]) for w in writes]
        return self.writes_to_update(task.writes)

    def task_result(self, task: Any) -> Any:
        """A finished task's ``result`` in the ``tasks``/``debug`` streams: its writes to
        state keys, several writes to one key as ``{"$writes": [...]}`` (as LangGraph)."""
        keys = self.state_keys
        out: dict[str, Any] = {}
        for ch, v in task.writes:
            if ch not in keys:
                continue
            if ch in out:
                prev = out[ch]
                many = prev["$writes"] if isinstance(prev, dict) and isinstance(prev.get("$writes"), list) else [prev]
                out[ch] = {"$writes": [*many, v]}
            else:
                out[ch] = v
        return out

    def task_messages(self, task: Any) -> list[Any]:
        return []

    def command_writes(self, cmd: Command) -> list[tuple[str, Any]]:
        return [(k, v) for k, v in cmd.update_items() if k in self.channels]

    def get_subgraphs(self) -> Iterator[tuple[str, Pregel]]:
        for name, node in self.nodes.items():
            if node.subgraph is not None:
                yield name, node.subgraph

    def with_config(self, config: dict[str, Any] | None = None, **kwargs: Any) -> Pregel:
        """A copy of this graph whose runs default to ``config`` (merged)."""
        clone = object.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        merged = {**self.config, **(config or {}), **kwargs}
        if CONF in self.config or (config and CONF in config):
            merged[CONF] = {**self.config.get(CONF, {}), **((config or {}).get(CONF) or {})}
        clone.config = merged
        return clone

    def _cache_namespaces(self, nodes: Sequence[str] | None) -> list[tuple[str, ...]]:
        if self.cache is None:
            raise ConfigError("This graph has no cache: compile it with cache=InMemoryCache() (or another cache)")
        names = self.nodes if nodes is None else nodes
        return [self.nodes[n].cache_ns for n in names if n in self.nodes]

    def clear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """Drop the cached results of ``nodes`` (every node when None)."""
        namespaces = self._cache_namespaces(nodes)
        self.cache.clear(namespaces)

    async def aclear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """Async twin of ``clear_cache``."""
        namespaces = self._cache_namespaces(nodes)
        await self.cache.aclear(namespaces)

    # --- run setup shared by every face ------------------------------------------------------

    def _prepare_config(self, config: dict[str, Any] | None) -> dict[str, Any]:
        if config is None:
            task = var_task.get()
            config = task.config if task is not None else {}
        if self.config:
            base = dict(self.config)
            base.update(config)
            if CONF in self.config:
                base[CONF] = {**self.config[CONF], **(config.get(CONF) or {})}
            config = base
        if CONF not in config:
            config = {**config, CONF: {}}
        return config

    def _saver(self, conf: dict[str, Any]) -> Any:
        if self.checkpointer is False:
            return None
        if self.checkpointer is None or self.checkpointer is True:
            return conf.get(K_CHECKPOINTER) if conf.get(K_PARENT) else None
        return self.checkpointer

    def _make_loop(
        self,
        config: dict[str, Any],
        *,
        modes: frozenset[str],
        sink: Any,
        subgraphs: bool,
        durability: str | None,
        interrupt_before: Any,
        interrupt_after: Any,
        use_parent_stream: bool,
    ) -> Loop:
        conf = config[CONF]
        is_sub = bool(conf.get(K_PARENT))
        if is_sub:
            durability = durability or conf.get(K_DURABILITY)
            if self.checkpointer is True:  # one persistent namespace per node, not per call
                ns = persistent_ns(conf.get("checkpoint_ns", ""))
                config = {**config, CONF: {**conf, "checkpoint_ns": ns}}
            if use_parent_stream:
                stream = conf.get(K_STREAM)
                sink, modes, subgraphs = (stream[0], stream[1], True) if stream else (None, frozenset(), False)
        elif conf.get("checkpoint_ns"):
            config = {**config, CONF: self._root_conf(conf)}
        durability = durability or "async"
        if durability not in ("sync", "async", "exit"):
            raise ConfigError(f"durability={durability!r}: use 'sync', 'async' or 'exit'")
        store = self.store if self.store is not None else conf.get(K_STORE)
        return Loop(
            self,
            config,
            checkpointer=self._saver(conf),
            store=store,
            modes=modes,
            sink=sink,
            stream_subgraphs=subgraphs,
            durability=durability,
            interrupt_before=self.interrupt_before_nodes if interrupt_before is None else interrupt_before,
            interrupt_after=self.interrupt_after_nodes if interrupt_after is None else interrupt_after,
        )

    @staticmethod
    def _root_conf(conf: dict[str, Any]) -> dict[str, Any]:
        """A root run given a subgraph checkpoint's config replays the parent checkpoint that
        subgraph checkpoint belongs to (``checkpoint_map[""]``), and the subgraphs on the way
        from their checkpoints in the map; without a map, the thread's latest checkpoint."""
        cmap = conf.get(K_CHECKPOINT_MAP) or {}
        out = {k: v for k, v in conf.items() if k not in ("checkpoint_ns", "checkpoint_id", K_CHECKPOINT_MAP)}
        if cmap.get(""):
            out["checkpoint_id"] = cmap[""]
            out[K_TARGETS] = {ns: cid for ns, cid in cmap.items() if ns and cid}
        return out

    @staticmethod
    def _read_config(loop: Loop) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Where the run's starting checkpoint is read: the config for ``get_tuple`` (or
        ``list``), and the ``before=`` bound when a replayed subgraph starts from its state as
        of the replayed parent checkpoint."""
        read: dict[str, Any] = {"thread_id": loop.thread_id, "checkpoint_ns": loop.ns}
        before = None
        if not loop.is_subgraph:
            if loop.addressed:
                read["checkpoint_id"] = loop.config[CONF]["checkpoint_id"]
        elif loop.replay is not None and (start := loop.replay.start(loop.ns)) is not None:
            if start[0] == "at":
                read["checkpoint_id"] = start[1]
                loop.addressed = True
            else:
                before = {CONF: {"checkpoint_id": start[1]}}
        return {CONF: read}, before

    def _load(self, loop: Loop) -> Any:
        """The run's starting checkpoint (and, when one is addressed, the thread's head id)."""
        saver = loop.checkpointer
        if not saver:
            return None
        read, before = self._read_config(loop)
        if before is not None:
            saved = next(iter(saver.list(read, before=before, limit=1)), None)
        else:
            saved = saver.get_tuple(read)
        if "checkpoint_id" in read[CONF]:
            head = saver.get_tuple({CONF: {k: v for k, v in read[CONF].items() if k != "checkpoint_id"}})
            loop.head_id = head.checkpoint["id"] if head else None
        return saved

    async def _aload(self, loop: Loop) -> Any:
        saver = loop.checkpointer
        if not saver:
            return None
        read, before = self._read_config(loop)
        if before is not None:
            saved = None
            async for saved in saver.alist(read, before=before, limit=1):
                break
        else:
            saved = await saver.aget_tuple(read)
        if "checkpoint_id" in read[CONF]:
            head = await saver.aget_tuple({CONF: {k: v for k, v in read[CONF].items() if k != "checkpoint_id"}})
            loop.head_id = head.checkpoint["id"] if head else None
        return saved

    def _begin(self, loop: Loop, input: Any) -> None:
        """Take the thread's lease (one writer per thread), then load the starting checkpoint
        and start the loop; the lease is released again if starting fails."""
        take_lease(self, loop)
        try:
            loop.start(self._load(loop), input)
        except BaseException:
            end_lease(loop)
            raise

    async def _abegin(self, loop: Loop, input: Any) -> None:
        """Async twin of ``_begin``."""
        await atake_lease(self, loop)
        try:
            loop.start(await self._aload(loop), input)
        except BaseException:
            await aend_lease(loop)
            raise

    @staticmethod
    def _modes(stream_mode: Any, debug: bool | None) -> tuple[frozenset[str], bool]:
        if stream_mode is None:
            stream_mode = "values"
        single = isinstance(stream_mode, str)
        modes = {stream_mode} if single else set(stream_mode)
        if debug:
            modes.add("debug")
        bad = modes - _MODES
        if bad:
            raise ValueError(f"Unknown stream_mode {sorted(bad)}: use one of {sorted(_MODES)}")
        return frozenset(modes), single and len(modes) == 1

    @staticmethod
    def _format(single: bool, subgraphs: bool, item: tuple[Any, str, Any]) -> Any:
        ns, mode, chunk = item
        if single:
            return (ns, chunk) if subgraphs else chunk
        return (ns, mode, chunk) if subgraphs else (mode, chunk)

    @staticmethod
    def _outcome(loop: Loop) -> None:
        """Raise what a finished loop ended with (errors; interrupts inside subgraphs)."""
        status = loop.status
        if status == "error":
            raise loop.exception  # type: ignore[misc]
        if status == "parent_command":
            if loop.is_subgraph:
                raise ParentCommand(loop.parent_command)
            # LangGraph lets the ParentCommand escape the root with graph=""
            raise ParentCommandAtRootError(replace(loop.parent_command, graph=""))
        if status == "draining":
            raise GraphDrained(loop.control.drain_reason or "shutdown")
        if loop.is_subgraph and status in ("interrupted", "interrupt_before", "interrupt_after"):
            raise GraphInterrupt(loop.pending_interrupts() if status == "interrupted" else ())

    @staticmethod
    def _result(loop: Loop) -> Any:
        if loop.status == "interrupted":
            out = loop.output(live=True)
            interrupts = loop.pending_interrupts()
            if interrupts:  # a root (non-dict) state's values are left out, as in LangGraph
                out = {**(out if isinstance(out, dict) else {}), "__interrupt__": interrupts}
            return out
        return loop.output()

    # --- running -----------------------------------------------------------------------------

    def _stream_loop(
        self, config: Any, stream_mode: Any, debug: bool | None, sink: Any, subgraphs: bool,
        durability: str | None, interrupt_before: Any, interrupt_after: Any,
    ) -> tuple[Any, Any, bool]:
        """The loop of a ``stream``/``astream`` run, its stream modes and whether it is one."""
        config = self._prepare_config(config)
        if stream_mode is None:
            stream_mode = self.stream_mode
        modes, single = self._modes(stream_mode, debug if debug is not None else self.debug)
        loop = self._make_loop(
            config, modes=modes, sink=sink, subgraphs=subgraphs, durability=durability,
            interrupt_before=interrupt_before, interrupt_after=interrupt_after,
            use_parent_stream=False,
        )
        return loop, modes, single

    def _invoke_loop(
        self, config: Any, durability: str | None, interrupt_before: Any, interrupt_after: Any
    ) -> Any:
        """The loop of an ``invoke``/``ainvoke`` run (no stream of its own)."""
        return self._make_loop(
            self._prepare_config(config), modes=frozenset(), sink=None, subgraphs=False,
            durability=durability, interrupt_before=interrupt_before,
            interrupt_after=interrupt_after, use_parent_stream=True,
        )

    def stream(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        context: Any = None,
        control: Any = None,
        stream_mode: Any = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        durability: str | None = None,
        subgraphs: bool = False,
        debug: bool | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Run the graph, yielding chunks of the requested stream mode(s); ``context`` is the
        run's ``Runtime.context`` (for nodes and subgraphs)."""
        _refuse_extra("stream", kwargs)
        config = with_context(config, context, self.context_schema, control)
        q: queue.SimpleQueue = queue.SimpleQueue()
        loop, modes, single = self._stream_loop(
            config, stream_mode, debug, q.put, subgraphs, durability, interrupt_before, interrupt_after
        )
        lc_run = start_graph_run(self, loop, input, subgraphs=subgraphs, is_async=False)
        if lc_run is not None:
            lc_run.start()
        saver = loop.checkpointer
        self._begin(loop, input)
        io = SyncIO(saver, loop.durability, loop.lease) if saver else None
        realtime = subgraphs or "custom" in modes or "messages" in modes
        items = drive(loop, io, q, realtime)
        for item in items if lc_run is None else self._traced(lc_run, loop, items):
            yield self._format(single, subgraphs, item)
        self._outcome(loop)

    async def astream(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        context: Any = None,
        control: Any = None,
        stream_mode: Any = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        durability: str | None = None,
        subgraphs: bool = False,
        debug: bool | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """Async twin of ``stream``."""
        _refuse_extra("astream", kwargs)
        config = with_context(config, context, self.context_schema, control)
        q: asyncio.Queue = asyncio.Queue()
        loop, modes, single = self._stream_loop(
            config, stream_mode, debug, async_sink(q), subgraphs, durability, interrupt_before, interrupt_after
        )
        lc_run = start_graph_run(self, loop, input, subgraphs=subgraphs, is_async=True)
        if lc_run is not None:
            await lc_run.astart()
        saver = loop.checkpointer
        await self._abegin(loop, input)
        io = AsyncIO(saver, loop.durability, loop.lease) if saver else None
        realtime = subgraphs or "custom" in modes or "messages" in modes
        items = adrive(loop, io, q, realtime)
        async for item in items if lc_run is None else self._atraced(lc_run, loop, items):
            yield self._format(single, subgraphs, item)
        self._outcome(loop)

    def invoke(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        context: Any = None,
        control: Any = None,
        stream_mode: Any = "values",
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        durability: str | None = None,
        debug: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run the graph to its end (or an interrupt) and return the final values; when
        interrupted the values carry ``"__interrupt__": [Interrupt, ...]``."""
        _refuse_extra("invoke", kwargs)
        config = with_context(config, context, self.context_schema, control)
        if stream_mode != "values":
            return list(self.stream(input, config, stream_mode=stream_mode,
                                    interrupt_before=interrupt_before,
                                    interrupt_after=interrupt_after, durability=durability,
                                    debug=debug))
        q: queue.SimpleQueue = queue.SimpleQueue()
        loop = self._invoke_loop(config, durability, interrupt_before, interrupt_after)
        lc_run = start_graph_run(self, loop, input, subgraphs=False, is_async=False)
        if lc_run is not None:
            lc_run.start()
        saver = loop.checkpointer
        self._begin(loop, input)
        io = SyncIO(saver, loop.durability, loop.lease) if saver else None
        items = drive(loop, io, q, loop.child_stream is not None)
        for _ in items if lc_run is None else self._traced(lc_run, loop, items):
            pass
        self._outcome(loop)
        return self._result(loop)

    async def ainvoke(
        self,
        input: Any,
        config: dict[str, Any] | None = None,
        *,
        context: Any = None,
        control: Any = None,
        stream_mode: Any = "values",
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        durability: str | None = None,
        debug: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """Async twin of ``invoke``."""
        _refuse_extra("ainvoke", kwargs)
        config = with_context(config, context, self.context_schema, control)
        if stream_mode != "values":
            return [c async for c in self.astream(input, config, stream_mode=stream_mode,
                                                   interrupt_before=interrupt_before,
                                                   interrupt_after=interrupt_after,
                                                   durability=durability, debug=debug)]
        q: asyncio.Queue = asyncio.Queue()
        loop = self._invoke_loop(config, durability, interrupt_before, interrupt_after)
        lc_run = start_graph_run(self, loop, input, subgraphs=False, is_async=True)
        if lc_run is not None:
            await lc_run.astart()
        saver = loop.checkpointer
        await self._abegin(loop, input)
        io = AsyncIO(saver, loop.durability, loop.lease) if saver else None
        items = adrive(loop, io, q, loop.child_stream is not None)
        async for _ in items if lc_run is None else self._atraced(lc_run, loop, items):
            pass
        self._outcome(loop)
        return self._result(loop)
