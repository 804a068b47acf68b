"""The superstep engine core: plan tasks, record their outcomes, apply writes, checkpoint.

``Loop`` does no I/O. Savers calls it needs are queued in ``outbox`` as
``("put", config, checkpoint, metadata, new_versions)`` / ``("put_writes", config, writes,
task_id, task_path)`` and stream chunks go to ``sink((namespace, mode, chunk))``; the sync and
async drivers (``waypoint.pregel.runner``) run tasks and perform the queued I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from waypoint.channels.base import MISSING
from waypoint.checkpoint.base import (
    ERROR,
    EXCLUDED_METADATA_KEYS,
    INTERRUPT,
    RESUME,
    Checkpoint,
    get_thread_id,
    new_checkpoint_id,
)
from waypoint.errors import ErrorCode, GraphDrained, GraphRecursionError, InvalidUpdateError, create_error_message
from waypoint.pregel.algo import (
    NullResume,
    ReplayBound,
    group_pending_writes,
    group_writes,
    int_next_version,
    max_version,
    restore_channels,
    task_path_str,
)
from waypoint.pregel.constants import (
    CONF,
    DEFAULT_RECURSION_LIMIT,
    INTERRUPT_SEEN,
    K_CHECKPOINT_MAP,
    K_CONTROL,
    K_NULL_RESUME,
    K_PARENT,
    K_REPLAY,
    K_RESUME_MAP,
    K_RESUME_STEP,
    K_RESUMING,
    K_TARGETS,
    NO_WRITES,
    NS_SEP,
    PULL,
    PUSH,
    START,
    TASKS,
)
from waypoint.pregel.cache import CacheMixin
from waypoint.pregel.call import is_call
from waypoint.pregel.events import EventsMixin
from waypoint.pregel.handlers import HandlersMixin
from waypoint.pregel.persist import PersistMixin
from waypoint.pregel.resume import StartMixin
from waypoint.pregel.node import Task, interrupt_id, make_task_id, task_config
from waypoint.managed.base import StepInfo
from waypoint.runtime import RunControl
from waypoint.types import Interrupt, Send

if TYPE_CHECKING:
    from waypoint.pregel.main import Pregel

_EMPTY: dict[str, Any] = {}


class Loop(StartMixin, EventsMixin, PersistMixin, CacheMixin, HandlersMixin):
    """State of one run of a graph in one checkpoint namespace."""

    def __init__(
        self,
        graph: Pregel,
        config: dict[str, Any],
        *,
        checkpointer: Any,
        store: Any,
        modes: frozenset[str] = frozenset(),
        sink: Callable[[tuple[Any, str, Any]], None] | None = None,
        stream_subgraphs: bool = False,
        durability: str = "async",
        interrupt_before: Any = (),
        interrupt_after: Any = (),
    ) -> None:
        self.graph = graph
        self.config = config
        conf = config.get(CONF) or _EMPTY
        self.checkpointer = checkpointer
        self.store = store
        self.thread_id = get_thread_id(config) if checkpointer else conf.get("thread_id")
        self.ns: str = conf.get("checkpoint_ns") or ""
        self.ns_tuple = tuple(self.ns.split(NS_SEP)) if self.ns else ()
        self.checkpoint_map: dict[str, str] = dict(conf.get(K_CHECKPOINT_MAP) or _EMPTY)
        self.checkpoint_map.pop(self.ns, None)
        self.is_subgraph = bool(conf.get(K_PARENT))
        self.resume_map: dict[str, Any] | None = conf.get(K_RESUME_MAP)
        self.parent_resuming = bool(conf.get(K_RESUMING))
        # set by a replaying root run (``_start_resume``); inherited by its subgraphs
        self.replay: ReplayBound | None = conf.get(K_REPLAY) if self.is_subgraph else None
        # a run starting from an addressed checkpoint (a subgraph's: set when it is loaded)
        self.addressed = not self.is_subgraph and bool(conf.get("checkpoint_id"))
        self.targets: dict[str, str] = {} if self.is_subgraph else dict(conf.get(K_TARGETS) or _EMPTY)
        self.null_resume: NullResume | None = conf.get(K_NULL_RESUME) if self.is_subgraph else None
        # True during the first step of a run that continues its checkpoint (not a replay)
        self.resume_step = False
        self.durability = durability
        self.modes = modes
        self.sink = sink
        self.child_stream = (sink, modes) if stream_subgraphs and sink is not None else None
        self.custom_writer = self._custom_writer() if "custom" in modes and sink else None
        self.pushed_message_ids: set[Any] = set()  # streamed by push_message() already
        self.held_results: list[dict[str, Any]] = []  # interrupted tasks' task_result events
        self.interrupt_before = interrupt_before
        self.interrupt_after = interrupt_after
        self.recursion_limit = int(config.get("recursion_limit") or DEFAULT_RECURSION_LIMIT)
        self.next_version = checkpointer.get_next_version if checkpointer else int_next_version
        meta = {k: v for k, v in (config.get("metadata") or _EMPTY).items()
                if not k.startswith("langgraph_") and k not in EXCLUDED_METADATA_KEYS}
        if config.get("run_id") is not None:
            meta["run_id"] = str(config["run_id"])
        self.user_metadata = meta
        self.outbox: list[tuple[Any, ...]] = []
        self.deferred: list[tuple[Any, ...]] = []  # exit durability: writes of the open step
        self.status = "pending"
        self.tasks: list[Task] = []
        self.exception: BaseException | None = None
        self.parent_command: Any = None
        self.records: dict[str, Any] = {}
        self.first_tick = True
        self.pending_put = False
        self.head_id: str | None = None  # the thread's latest checkpoint, when one is addressed
        self.crashed = False
        # RunControl: drain between steps (one per run, shared with its subgraphs)
        self.control: Any = conf.get(K_CONTROL) or RunControl()
        self.lease: Any = None  # the RunLease its writes carry (pregel/lease.py)
        self.lease_owned: Any = None  # (RunLease, heartbeat task) when this run took it
        self.cache = graph.cache  # node result cache (None: no lookups, no cost)
        self.cache_wanted: list[Task] = []
        self.cache_out: list[tuple[Any, Any]] = []
        self.handlers: list[Task] = []  # error-handler tasks the driver runs in this step

    # ------------------------------------------------------------------ setup

    def _restore(self, checkpoint: Checkpoint | None) -> None:
        self.channels, self.values = restore_channels(self.graph.channels, checkpoint)
        if checkpoint is None:
            self.versions: dict[str, Any] = {}
            self.seen: dict[str, dict[str, Any]] = {}
            self.updated: set[str] | None = set()
        else:
            self.versions = dict(checkpoint["channel_versions"])
            self.seen = dict(checkpoint["versions_seen"])
            upd = checkpoint.get("updated_channels")
            self.updated = set(upd) if upd is not None else None
        self.max_version = max_version(self.versions)
        self.put_versions = dict(self.versions)
        self.dirty: set[str] = set()

    def load(self, saved: Any) -> list[tuple[str, Any]]:
        """Restore a CheckpointTuple (or start empty); returns the caller's null writes."""
        self._restore(saved.checkpoint if saved else None)
        if not saved:
            self.step, self.checkpoint_id, self.ts, self.source = -2, new_checkpoint_id(), "", ""
            self.last_put_id: str | None = None
            self.parent_id: str | None = None
            return []
        self.step = int(saved.metadata.get("step", -1))
        self.loaded = (saved.checkpoint["id"], saved.metadata)  # for stream events about it
        self.checkpoint_id = saved.checkpoint["id"]
        self.ts = saved.checkpoint["ts"]
        self.source = saved.metadata.get("source", "loop")
        self.last_put_id = saved.checkpoint["id"]
        pc = saved.parent_config
        self.parent_id = ((pc or _EMPTY).get(CONF) or _EMPTY).get("checkpoint_id")
        self.records, null_writes = group_pending_writes(saved.pending_writes)
        return null_writes

    def _start_input(self, saved: Any, input: Any, extra: list | None = None) -> None:
        if saved:  # discard the previous checkpoint's unfinished tasks
            for task in self._plan(for_run=False):
                if task.path[0] == PULL:
                    self._mark_seen(task)
            if TASKS in self.values:
                self._apply_writes([], clear_only=(TASKS,))
        writes = self.graph.input_writes(input) if input is not None else []
        if extra:
            writes.extend(extra)
        self.records = {}
        self.updated = set()
        self._apply_null(writes)
        self._new_checkpoint("input")

    def _apply_null(self, writes: list[tuple[str, Any]]) -> None:
        if not writes:
            return
        grouped = group_writes(writes)
        changed = set()
        for ch, vals in grouped.items():
            channel = self.channels.get(ch)
            if channel is None:
                raise InvalidUpdateError(f"Cannot write to unknown channel {ch!r}")
            if channel.update(vals):
                changed.add(ch)
        self._bump(changed)
        if self.updated is not None:
            self.updated |= changed

    def _mark_resumed(self) -> None:
        self.seen[INTERRUPT_SEEN] = dict(self.versions)

    # ------------------------------------------------------------------ planning

    def _plan(self, for_run: bool = True) -> list[Task]:
        graph, versions, seen, channels = self.graph, self.versions, self.seen, self.channels
        step = self.step + 1
        prefix = (self.checkpoint_id, self.ns, step)
        if self.updated is None:
            cands: Any = graph.node_order
        else:
            t2n = graph.trigger_to_nodes
            found = {n for ch in self.updated for n in t2n.get(ch, ())}
            cands = sorted(found, key=graph.node_index.__getitem__) if len(found) > 1 else found
        tasks: list[Task] = []
        values = self.values
        if graph.managed and for_run:
            values = {**values, **self.managed_values()}
        for name in cands:
            node = graph.nodes[name]
            nseen = seen.get(name, _EMPTY)
            for ch in node.triggers:
                v = versions.get(ch)
                if v is not None and channels[ch].is_available():
                    s = nseen.get(ch)
                    if s is None or v > s:
                        break
            else:
                continue
            tid = make_task_id(prefix, name, PULL, node.triggers)
            inp = node.read(values) if for_run else None
            tasks.append(Task(self, node, tid, (PULL, name), inp, node.triggers, (0, name)))
        sends = values.get(TASKS)
        if sends:
            for i, send in enumerate(sends):
                node = graph.nodes.get(send.node) if isinstance(send, Send) else None
                if node is None:
                    raise InvalidUpdateError(f"Send targets unknown node {getattr(send, 'node', send)!r}")
                tid = make_task_id(prefix, send.node, f"{PUSH}:{i}")
                inp = node.read_send(send.arg) if for_run else send.arg
                tasks.append(Task(self, node, tid, (PUSH, i), inp, (PUSH,), (1, i)))
        return tasks

    def tick(self) -> bool:
        """Plan the next step. False when the run is over (done or stopped before it)."""
        tasks = self._plan()
        if self.first_tick:
            self.first_tick = False
            if self.records:
                self._match_records(tasks)
        self.tasks = tasks
        self.emit_checkpoint(tasks)
        if not tasks:
            self.status = "done"
            return False
        if self.step + 1 > self.stop:
            self.status = "error"
            self.exception = GraphRecursionError(
                create_error_message(  # LangGraph's wording: programs match on it
                    message=f"Recursion limit of {self.recursion_limit} reached without hitting a "
                    "stop condition. You can increase the limit by setting the `recursion_limit` "
                    "config key.",
                    error_code=ErrorCode.GRAPH_RECURSION_LIMIT,
                )
            )
            return False
        if self.interrupt_before and self._static_interrupt(self.interrupt_before, tasks):
            self.status = "interrupt_before"
            self.emit_static_interrupt()
            return False
        if self.control is not None and self.control.drain_requested:
            self.status = "draining"  # after the breakpoint check, as LangGraph
            return False
        self.emit_task_starts(tasks)
        for t in tasks:
            if t.done and not t.handled:  # restored from the checkpoint's writes: not run again
                self.emit_cached_update(t)
        if self.cache is not None:
            self._want_cache(tasks)
        return True

    def _match_records(self, tasks: list[Task]) -> None:
        rmap = self.resume_map or _EMPTY
        if self.graph.has_error_handlers:
            self._resume_handlers(tasks)  # appends the handlers that were interrupted
        for task in tasks:
            rec = self.records.get(task.id)
            if rec is None:
                continue
            if rec.finished:
                task.writes = [w for w in rec.writes if w[0] != NO_WRITES]
                task.done = True
                continue
            if rec.resume:
                task.resume = list(rec.resume)
            task.resuming = rec.interrupted or rec.error is not None
            added = False
            for intr in rec.interrupts:
                iid = getattr(intr, "id", None)
                if iid not in rmap:
                    continue
                if iid == interrupt_id(task.ns, len(task.resume)):
                    task.resume.append(rmap[iid])
                    added = True
                elif rec.error is not None:  # the last attempt failed, e.g. its answer was
                    # refused by the interrupt's response_schema: a new answer replaces it
                    for j in range(len(task.resume)):
                        if iid == interrupt_id(task.ns, j):
                            task.resume[j:] = [rmap[iid]]
                            added = True
                            break
            if added:
                self._save_writes(task.id, task_path_str(task.path), [(RESUME, task.resume)])

    def _static_interrupt(self, names: Any, tasks: list[Task]) -> bool:
        iseen = self.seen.get(INTERRUPT_SEEN, _EMPTY)
        versions = self.versions
        changed = any(
            (s := iseen.get(ch)) is None or versions[ch] > s
            for ch in (self.updated if self.updated is not None else versions)
            if ch in versions
        )
        if not changed:
            return False
        hit = any(not t.done and _matches(names, t) for t in tasks)
        if hit:
            self._mark_resumed()
        return hit

    # ------------------------------------------------------------------ task outcomes

    def task_done(self, task: Task) -> None:
        """Record a finished task (success, interrupt, error or parent command)."""
        if task.parent_command is not None and not is_call(task):
            self.parent_command = task.parent_command
            return
        if task.error is not None:
            if isinstance(task.error, GraphDrained):  # a subgraph drained: nothing to record
                return
            writes: list[tuple[str, Any]] = [(ERROR, repr(task.error))]
            if task.node.error_handler is not None and isinstance(task.error, Exception):
                self._schedule_handler(task)
        elif task.interrupted:
            writes = [(INTERRUPT, list(task.interrupts))]
        else:
            writes = task.writes or [(NO_WRITES, None)]
        if self.null_resume is not None and self.null_resume.taken_by is task:
            self._save_writes(task.id, task_path_str(task.path), [(RESUME, list(task.resume))])
        self._save_writes(task.id, task_path_str(task.path), writes)
        if task.cache_key is not None:
            self._cache_done(task)
        self.emit_task_result(task)

    def after_tick(self) -> bool:
        """Close the step: apply writes and checkpoint. False when the run stops here."""
        tasks = self.tasks
        self.resume_step = False
        if self.parent_command is not None:
            self.status = "parent_command"
            return False
        planned = [t for t in tasks if not is_call(t)]  # a called task's outcome is its caller's
        for t in planned:
            if t.error is not None and not t.handled:
                self.status, self.exception = "error", t.error
                return False
        if any(t.interrupted for t in planned):
            self.status = "interrupted"
            self.emit_interrupts(self.pending_interrupts())
            return False
        for t in tasks:
            if t.path[0] == PULL:
                self._mark_seen(t)
        writes = [w for t in sorted(tasks, key=_sort_key) for w in t.writes]
        try:
            self._apply_writes(writes, consume=[t for t in tasks if t.path[0] == PULL])
        except BaseException:
            self.crashed = True  # channels may be half-updated: never persist them
            raise
        self._new_checkpoint("loop")
        if self.updated is None or not self.updated.isdisjoint(self.graph.output_keys):
            self.emit_values()  # as LangGraph: a step that changed no output key adds no chunk
        if self.interrupt_after and self._static_interrupt_after(tasks):
            self.status = "interrupt_after"
            self.emit_static_interrupt()
            return False
        return True

    def _static_interrupt_after(self, tasks: list[Task]) -> bool:
        names = self.interrupt_after
        if any(_matches(names, t) for t in tasks):
            self._mark_resumed()
            return True
        return False

    def _mark_seen(self, task: Task) -> None:
        versions = self.versions
        old = self.seen.get(task.name, _EMPTY)
        new = dict(old)
        for ch in task.node.triggers:
            v = versions.get(ch)
            if v is not None:
                new[ch] = v
        self.seen[task.name] = new

    def _apply_writes(
        self,
        writes: list[tuple[str, Any]],
        consume: list[Task] = (),  # type: ignore[assignment]
        clear_only: tuple[str, ...] = (),
    ) -> None:
        channels = self.channels
        updated: set[str] = set()
        for t in consume:
            for ch in t.node.triggers:
                if channels[ch].consume():
                    updated.add(ch)
        grouped = group_writes(writes)
        for ch, vals in grouped.items():
            channel = channels.get(ch)
            if channel is None:
                raise InvalidUpdateError(f"Node wrote to unknown channel {ch!r}")
            if channel.update(vals):
                updated.add(ch)
        values = self.values
        for ch in clear_only or self.graph.step_scoped:
            if ch not in grouped and ch in values and channels[ch].update(()):
                updated.add(ch)
        if self.graph.finish_channels and not clear_only:
            self._finish_if_idle(updated)
        self._bump(updated)
        self.updated = updated

    def _finish_if_idle(self, updated: set[str]) -> None:
        """When no node would run next, let the channels waiting for the run's end (deferred
        nodes' triggers) become available."""
        channels, t2n = self.channels, self.graph.trigger_to_nodes
        if any(ch in t2n and channels[ch].is_available() for ch in updated):
            return
        for ch in self.graph.finish_channels:
            if channels[ch].finish():
                updated.add(ch)

    def _bump(self, changed: set[str]) -> None:
        if not changed:
            return
        v = self.next_version(self.max_version, None)
        self.max_version = v
        versions, values, channels = self.versions, self.values, self.channels
        for ch in changed:
            versions[ch] = v
            val = channels[ch].checkpoint()
            if val is MISSING:
                values.pop(ch, None)
            else:
                values[ch] = val
        self.dirty |= changed

    # ------------------------------------------------------------------ reading

    def values_with(self, writes: list[tuple[str, Any]]) -> dict[str, Any]:
        """Channel values with ``writes`` applied to copies (the loop's state is unchanged)."""
        if not writes:
            return self.values
        out = dict(self.values)
        for ch, vals in group_writes(writes).items():
            channel = self.channels.get(ch)
            if channel is None:
                continue
            c = channel.copy()
            c.update(vals)
            v = c.checkpoint()
            if v is MISSING:
                out.pop(ch, None)
            else:
                out[ch] = v
        return out

    def output(self, live: bool = False) -> Any:
        values = self.values
        if live:
            ok = [t for t in sorted(self.tasks, key=_sort_key) if not (t.interrupted or t.error)]
            values = self.values_with([w for t in ok for w in t.writes])
        return self.graph.read_output(values)

    def managed_values(self) -> dict[str, Any]:
        """The graph's managed state keys for the step being planned or run."""
        info = StepInfo(self.step + 1, self.stop)
        return {k: m.get(info) for k, m in self.graph.managed.items()}

    def pending_interrupts(self) -> list[Interrupt]:
        return [i for t in self.tasks if not is_call(t) for i in t.interrupts]

    def task_config(self, task: Task) -> dict[str, Any]:
        config = task_config(self, task)
        conf = config[CONF]
        if self.replay is not None:
            conf[K_REPLAY] = self.replay
        if self.null_resume is not None:
            conf[K_NULL_RESUME] = self.null_resume
        conf[K_RESUME_STEP] = self.resume_step
        return config


def _matches(names: Any, task: Task) -> bool:
    """Whether a static interrupt list names ``task``; ``"*"`` means every node but the
    graph's input node (which only copies the input into channels)."""
    return task.name != START if names == "*" else task.name in names


def _sort_key(task: Task) -> tuple[Any, ...]:
    return task.sort_key
