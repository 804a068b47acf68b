"""Inspection and time travel as I/O-free operations.

``snapshot_op`` (get_state) and ``update_op`` (update_state / bulk_update_state) are
generators that yield requests and receive their results:

- ``("get_tuple", config)`` -> CheckpointTuple | None
- ``("put", config, checkpoint, metadata, new_versions)`` -> new config
- ``("put_writes", config, writes, task_id, task_path)`` -> None
- ``("child_state", graph, config)`` -> StateSnapshot of a subgraph
- ``("write", node, task, values)`` -> None (runs the node's writer, awaiting async routing)

``waypoint.pregel.main`` drives them with a saver's sync or async methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from waypoint.checkpoint.base import get_checkpoint_ns, get_thread_id
from waypoint.checkpoint.base.lease import with_lease
from waypoint.errors import ConfigError, InvalidUpdateError
from waypoint.pregel.algo import persistent_ns
from waypoint.pregel.constants import (
    CONF,
    END,
    INTERRUPT_SEEN,
    K_CHECKPOINT_MAP,
    K_CHECKPOINTER,
    K_PARENT,
    NO_WRITES,
    NS_END,
    NS_SEP,
    PULL,
    START,
)
from waypoint.pregel.lease import aupdating, updating
from waypoint.pregel.loop import Loop, _sort_key
from waypoint.pregel.node import Task, make_task_id
from waypoint.types import PregelTask, StateSnapshot, StateUpdate

if TYPE_CHECKING:
    from waypoint.pregel.main import Pregel

Op = Generator[tuple[Any, ...], Any, Any]
UPDATE_SEEN = "__update__"


def patch_config(config: dict[str, Any], metadata: dict[str, Any] | None) -> dict[str, Any]:
    """A snapshot's config: adds ``checkpoint_map`` for subgraph checkpoints."""
    conf = dict(config.get(CONF) or {})
    parents = (metadata or {}).get("parents") or {}
    if parents and conf.get("checkpoint_ns"):
        conf[K_CHECKPOINT_MAP] = {**parents, conf["checkpoint_ns"]: conf.get("checkpoint_id")}
    return {CONF: conf}


def empty_snapshot(config: dict[str, Any]) -> StateSnapshot:
    return StateSnapshot({}, (), config, None, None, None, (), ())


def snapshot_op(graph: Pregel, saver: Any, saved: Any, *, live: bool, recurse: bool) -> Op:
    """Build the StateSnapshot of a stored checkpoint.

    ``live`` (the thread's latest checkpoint): values include finished tasks' writes, ``next``
    lists only tasks still to run and ``interrupts`` only unanswered ones. Otherwise the
    snapshot is a record of the step: values at its start, every task, every interrupt.
    """
    loop = Loop(graph, saved.config, checkpointer=saver, store=None)
    null_writes = loop.load(saved)
    loop._apply_null(null_writes)
    tasks = loop._plan(for_run=False)
    records = loop.records
    values = loop.values
    if live:
        done = [t for t in sorted(tasks, key=_sort_key) if (r := records.get(t.id)) and r.finished]
        values = loop.values_with([w for t in done for w in records[t.id].writes])
    thread_id = saved.config[CONF].get("thread_id")
    out: list[PregelTask] = []
    for t in tasks:
        rec = records.get(t.id)
        finished = bool(rec and rec.finished)
        state = None
        if t.node.subgraph is not None:
            child_cfg = {CONF: {"thread_id": thread_id, "checkpoint_ns": t.ns}}
            state = (yield ("child_state", t.node.subgraph, child_cfg)) if recurse else child_cfg
        interrupts: tuple[Any, ...] = ()
        if rec and (not live or not finished):
            interrupts = tuple(rec.interrupts)
        result = None
        if finished:
            result = graph.writes_to_update([w for w in rec.writes if w[0] != NO_WRITES])
        out.append(
            PregelTask(t.id, t.name, t.path, rec.error if rec else None, interrupts, state, result)
        )
    nxt = tuple(t.name for t in tasks if not (live and (r := records.get(t.id)) and r.finished))
    return StateSnapshot(
        graph.read_state(values),
        nxt,
        patch_config(saved.config, saved.metadata),
        saved.metadata,
        saved.checkpoint["ts"],
        patch_config(saved.parent_config, saved.metadata) if saved.parent_config else None,
        tuple(out),
        tuple(i for pt in out for i in pt.interrupts),
    )


def infer_as_node(graph: Pregel, seen: dict[str, dict[str, Any]]) -> str:
    """The node that wrote last (by the versions it saw), LangGraph's rule: ``START`` when
    no node has run since the input (so a one-node graph's node runs again after the update);
    the only node of a graph without ``START``; ambiguous ties are an error."""
    if len(graph.nodes) == 1:  # e.g. a functional workflow's one node
        return next(iter(graph.nodes))
    last = sorted(
        (v, n)
        for n, s in seen.items()
        if n in graph.nodes and n != INTERRUPT_SEEN
        for v in s.values()
    )
    if not last:
        return START
    if len(last) > 1 and last[-1][0] == last[-2][0] and last[-1][1] != last[-2][1]:
        raise InvalidUpdateError(
            "Ambiguous update: several nodes wrote last; pass as_node=<node name> to "
            "update_state"
        )
    return last[-1][1]


def update_op(graph: Pregel, saver: Any, config: dict[str, Any], supersteps: Sequence[Any]) -> Op:
    """Apply ``supersteps`` (each a list of StateUpdate) as new checkpoints; returns the last
    checkpoint's config."""
    if not supersteps:
        raise InvalidUpdateError("bulk_update_state needs at least one superstep of updates")
    get_thread_id(config)
    current = config
    for updates in supersteps:
        updates = [u if isinstance(u, StateUpdate) else StateUpdate(*u) for u in updates]
        if not updates:
            raise InvalidUpdateError("Each superstep of bulk_update_state needs an update")
        saved = yield ("get_tuple", current)
        loop = Loop(graph, current, checkpointer=saver, store=graph.store, durability="sync")
        loop.load(saved)
        if not saved:
            loop.step = -1
        first = updates[0]
        if first.as_node == "__copy__":
            if len(updates) > 1 or not saved:
                raise InvalidUpdateError("as_node='__copy__' copies one existing checkpoint")
            loop.last_put_id = loop.parent_id
            loop._new_checkpoint("fork")
        elif first.as_node == "__input__":
            if len(updates) > 1:
                raise InvalidUpdateError("Cannot apply several updates as input")
            loop.step = loop.step if saved else -2
            loop._start_input(saved, first.values)
        elif first.as_node == END and first.values is None:
            if len(updates) > 1:
                raise InvalidUpdateError("Cannot apply several updates when clearing tasks")
            yield from _clear_tasks(loop, saved)
        else:
            yield from _apply_updates(graph, loop, saved, updates)
        new_config = current
        for op in loop.outbox:
            res = yield op
            if op[0] == "put":
                new_config = res
        current = patch_config(new_config, {"parents": loop.checkpoint_map})
    return current


def _clear_tasks(loop: Loop, saved: Any) -> Op:
    writes: list[tuple[str, Any]] = []
    tasks = loop._plan(for_run=False) if saved else []
    for t in sorted(tasks, key=_sort_key):
        rec = loop.records.get(t.id)
        if rec and rec.finished:
            writes.extend(rec.writes)
        if t.path[0] == PULL:
            loop._mark_seen(t)
    loop._apply_writes(writes, consume=[t for t in tasks if t.path[0] == PULL])
    loop.updated = None
    loop._new_checkpoint("update")
    return
    yield  # an operation, even when it needs no I/O of its own


def _apply_updates(graph: Pregel, loop: Loop, saved: Any, updates: list[StateUpdate]) -> Op:
    if len(updates) == 1:
        values, as_node, task_id = updates[0]
        if as_node is None:
            as_node = infer_as_node(graph, loop.seen)
        updates = [StateUpdate(values, as_node, task_id)]
    pending: dict[str, list[str]] = {}
    if saved:
        for t in loop._plan(for_run=False):
            pending.setdefault(t.name, []).append(t.id)
    tasks: list[Task] = []
    for i, (values, as_node, task_id) in enumerate(updates):
        if as_node is None:
            raise InvalidUpdateError("as_node is required when applying several updates")
        node = graph.nodes.get(as_node)
        if node is None:
            raise InvalidUpdateError(
                f"update_state as_node={as_node!r}: no such node (nodes: {sorted(graph.nodes)})"
            )
        ids = pending.get(as_node)
        if not task_id:
            prefix = (loop.checkpoint_id, loop.ns, "update")
            task_id = ids.pop(0) if ids else make_task_id(prefix, as_node, str(i))
        tid = task_id
        task = Task(loop, node, tid, ("__update__", i), None, node.triggers, (0, as_node, i))
        yield ("write", node, task, values)
        tasks.append(task)
    before = loop.max_version
    loop._apply_writes([w for t in tasks for w in t.writes])
    if before is not None:
        # the updating node counts as having run just before its own writes: an update
        # without as_node right after picks it, and a node its writes trigger wins after
        for t in tasks:
            loop.seen[t.name] = {**loop.seen.get(t.name, {}), UPDATE_SEEN: before}
    loop._new_checkpoint("update")


class InspectMixin:
    """get_state / get_state_history / update_state (and async twins) of ``Pregel``: each
    runs an operation above with the saver's sync or async methods."""

    nodes: dict[str, Any]
    checkpointer: Any

    def _inspect_target(self, config: dict[str, Any]) -> tuple[Pregel, Any, dict[str, Any]]:
        """The (sub)graph a config's checkpoint_ns names, its saver, and the config."""
        config = self._prepare_config(config)
        conf = config[CONF]
        saver = self._saver(conf) if conf.get(K_PARENT) else self.checkpointer
        if saver in (None, False, True):
            saver = conf.get(K_CHECKPOINTER)
        if saver in (None, False, True):
            raise ConfigError("No checkpointer set: compile the graph with checkpointer=...")
        graph: Pregel = self
        ns = get_checkpoint_ns(config)
        if ns and not conf.get(K_PARENT):
            for seg in ns.split(NS_SEP):
                name = seg.split(NS_END)[0]
                node = graph.nodes.get(name)
                if node is None or node.subgraph is None:
                    raise ConfigError(f"checkpoint_ns {ns!r}: {name!r} is not a subgraph node")
                graph = node.subgraph
        if ns and graph.checkpointer is True:  # one history per node path, not per task
            config = {**config, CONF: {**conf, "checkpoint_ns": persistent_ns(ns)}}
        return graph, saver, config

    def _run_op(self, op: Op, saver: Any, lease: Any = None) -> Any:
        result = None
        try:
            while True:
                req = op.send(result)
                kind = req[0]
                if kind == "get_tuple":
                    result = saver.get_tuple(req[1])
                elif kind == "put":
                    result = saver.put(*fenced(req[1:], lease))
                elif kind == "put_writes":
                    result = saver.put_writes(*fenced(req[1:], lease))
                elif kind == "write":
                    result = req[1].write(req[2], req[3])
                else:  # child_state
                    cfg = {CONF: {**req[2][CONF], K_CHECKPOINTER: saver, K_PARENT: True}}
                    result = req[1].get_state(cfg, subgraphs=True)
        except StopIteration as stop:
            return stop.value

    async def _arun_op(self, op: Op, saver: Any, lease: Any = None) -> Any:
        result = None
        try:
            while True:
                req = op.send(result)
                kind = req[0]
                if kind == "get_tuple":
                    result = await saver.aget_tuple(req[1])
                elif kind == "put":
                    result = await saver.aput(*fenced(req[1:], lease))
                elif kind == "put_writes":
                    result = await saver.aput_writes(*fenced(req[1:], lease))
                elif kind == "write":
                    node = req[1]
                    result = await (node.awrite or _as_async(node.write))(req[2], req[3])
                else:
                    cfg = {CONF: {**req[2][CONF], K_CHECKPOINTER: saver, K_PARENT: True}}
                    result = await req[1].aget_state(cfg, subgraphs=True)
        except StopIteration as stop:
            return stop.value

    @staticmethod
    def _state_op(graph: Pregel, saver: Any, config: dict[str, Any], subgraphs: bool) -> Op:
        read = {CONF: {k: v for k, v in config[CONF].items() if not k.startswith("__wp_")}}
        saved = yield ("get_tuple", read)
        if not saved:
            return empty_snapshot(config)
        live = not config[CONF].get("checkpoint_id")
        return (yield from snapshot_op(graph, saver, saved, live=live, recurse=subgraphs))

    def get_state(self, config: dict[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        """The state at the config's checkpoint (the thread's latest when none is named)."""
        graph, saver, config = self._inspect_target(config)
        return self._run_op(self._state_op(graph, saver, config, subgraphs), saver)

    async def aget_state(self, config: dict[str, Any], *, subgraphs: bool = False) -> StateSnapshot:
        graph, saver, config = self._inspect_target(config)
        return await self._arun_op(self._state_op(graph, saver, config, subgraphs), saver)

    @staticmethod
    def _history_config(config: dict[str, Any]) -> dict[str, Any]:
        conf = config[CONF]
        out = {"thread_id": conf.get("thread_id"), "checkpoint_ns": conf.get("checkpoint_ns", "")}
        if conf.get("checkpoint_id"):
            out["checkpoint_id"] = conf["checkpoint_id"]
        return {CONF: out}

    def get_state_history(
        self,
        config: dict[str, Any],
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """Snapshots of the thread's checkpoints, newest first."""
        graph, saver, config = self._inspect_target(config)
        for saved in saver.list(self._history_config(config), filter=filter, before=before, limit=limit):
            yield self._run_op(snapshot_op(graph, saver, saved, live=False, recurse=False), saver)

    async def aget_state_history(
        self,
        config: dict[str, Any],
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        graph, saver, config = self._inspect_target(config)
        async for saved in saver.alist(self._history_config(config), filter=filter, before=before, limit=limit):
            yield await self._arun_op(snapshot_op(graph, saver, saved, live=False, recurse=False), saver)

    def bulk_update_state(self, config: dict[str, Any], supersteps: Sequence[Sequence[Any]]) -> dict[str, Any]:
        """Apply supersteps of StateUpdate(values, as_node) as new checkpoints."""
        graph, saver, config = self._inspect_target(config)
        with updating(self, saver, config) as lease:
            return self._run_op(update_op(graph, saver, config, supersteps), saver, lease)

    async def abulk_update_state(
        self, config: dict[str, Any], supersteps: Sequence[Sequence[Any]]
    ) -> dict[str, Any]:
        graph, saver, config = self._inspect_target(config)
        async with aupdating(self, saver, config) as lease:
            return await self._arun_op(update_op(graph, saver, config, supersteps), saver, lease)

    def update_state(self, config: dict[str, Any], values: Any, as_node: str | None = None) -> dict[str, Any]:
        """Write ``values`` as if node ``as_node`` (default: the last node that ran) returned
        them; the next step follows that node's edges. Returns the new checkpoint's config."""
        return self.bulk_update_state(config, [[StateUpdate(values, as_node)]])

    async def aupdate_state(
        self, config: dict[str, Any], values: Any, as_node: str | None = None
    ) -> dict[str, Any]:
        return await self.abulk_update_state(config, [[StateUpdate(values, as_node)]])


def fenced(args: tuple[Any, ...], lease: Any) -> tuple[Any, ...]:
    """A put/put_writes call's arguments, its config carrying ``lease`` (a RunLease) if any."""
    if lease is None:
        return args
    return (with_lease(args[0], lease.lease), *args[1:])


def _as_async(fn: Any) -> Any:
    async def call(*args: Any) -> Any:
        return fn(*args)

    return call
