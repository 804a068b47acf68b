"""Stream chunks a run emits: values, updates, checkpoints, tasks, debug and custom."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from waypoint.checkpoint.base import EXCLUDED_METADATA_KEYS, now_iso
from waypoint.pregel.constants import CONF, K_CHECKPOINT_MAP, START

if TYPE_CHECKING:
    from waypoint.pregel.loop import Loop
    from waypoint.pregel.node import Task


class EventsMixin:
    """Builds stream chunks for a Loop; each method is a no-op unless its mode is on."""

    def _emit(self: Loop, mode: str, chunk: Any) -> None:
        self.sink((self.ns_tuple, mode, chunk))  # type: ignore[misc]

    def _custom_writer(self: Loop) -> Callable[[Any], None]:
        sink, ns = self.sink, self.ns_tuple

        def write(chunk: Any) -> None:
            sink((ns, "custom", chunk))  # type: ignore[misc]

        return write

    def emit_values(self: Loop) -> None:
        if "values" in self.modes:
            graph = self.graph
            self._emit("values", self.output() if graph.stream_keys is None else graph.read_values(self.values))

    def _checkpoint_payload(self: Loop, tasks: list[Task]) -> dict[str, Any]:
        parents = dict(self.checkpoint_map)
        parent = None
        if self.parent_id:
            conf = {"thread_id": self.thread_id, "checkpoint_ns": self.ns, "checkpoint_id": self.parent_id}
            if parents:  # as the config of a subgraph's checkpoint, its map included
                conf[K_CHECKPOINT_MAP] = {**parents, self.ns: self.parent_id}
            parent = {CONF: conf}
        # a new checkpoint shows the loop's own metadata (the run's is added when it is
        # stored); the checkpoint a run continues from shows what was stored, as LangGraph
        loaded = getattr(self, "loaded", None)
        if loaded is not None and loaded[0] == self.checkpoint_id:
            metadata = dict(loaded[1])
        else:
            metadata = {"source": self.source, "step": self.step, "parents": parents}
        return {
            "config": self.current_config,
            "parent_config": parent,
            "values": self.output(),
            "metadata": metadata,
            "next": [t.name for t in tasks],
            "tasks": [self._checkpoint_task(t) for t in tasks],
        }

    def _checkpoint_task(self: Loop, t: Task) -> dict[str, Any]:
        """A task in a checkpoint event: its result once finished (restored from the
        checkpoint's writes), its interrupts as dicts, and for a subgraph node the config
        under which the subgraph's checkpoints live."""
        state = None
        if getattr(t.node, "subgraph", None) is not None:
            state = {CONF: {"thread_id": self.thread_id, "checkpoint_ns": t.ns}}
        entry: dict[str, Any] = {"id": t.id, "name": t.name}
        result = self.graph.task_result(t) if t.done else None
        if result:
            entry["result"] = result
        rec = self.records.get(t.id)  # interrupts the task raised before, from the checkpoint
        interrupts = t.interrupts or (rec.interrupts if rec is not None else ())
        entry["interrupts"] = tuple(_interrupt_dict(i) for i in interrupts)
        entry["state"] = state
        return entry

    def emit_checkpoint(self: Loop, tasks: list[Task]) -> None:
        modes = self.modes
        # without a checkpointer nothing is saved, so there is no checkpoint to report
        if ("checkpoints" in modes or "debug" in modes) and self.checkpointer:
            payload = self._checkpoint_payload(tasks)
            if "checkpoints" in modes:
                self._emit("checkpoints", payload)
            if "debug" in modes:
                self._emit("debug", {"step": self.step, "timestamp": self.ts or now_iso(),
                                     "type": "checkpoint", "payload": payload})

    def emit_task_starts(self: Loop, tasks: list[Task]) -> None:
        modes = self.modes
        if "tasks" in modes or "debug" in modes:
            for t in tasks:  # tasks restored from saved writes too, as LangGraph
                if t.name == START:
                    continue
                payload = {"id": t.id, "name": t.name, "input": t.input, "triggers": t.triggers}
                meta = self._task_metadata()
                if meta:
                    payload["metadata"] = meta
                if "tasks" in modes:
                    self._emit("tasks", payload)
                if "debug" in modes:
                    self._emit("debug", {"step": self.step + 1, "timestamp": now_iso(),
                                         "type": "task", "payload": payload})

    def _task_metadata(self: Loop) -> dict[str, Any]:
        """The run's own metadata and tags a task event carries (engine keys left out)."""
        meta = {k: v for k, v in (self.config.get("metadata") or {}).items()
                if k not in EXCLUDED_METADATA_KEYS and not k.startswith("langgraph_")}
        tags = [t for t in self.config.get("tags") or () if not t.startswith("seq:step")]
        if tags:
            meta["tags"] = tags
        return meta

    def emit_task_result(self: Loop, task: Task) -> None:
        modes = self.modes
        if not modes or task.name == START:
            return
        if "updates" in modes and task.error is None and not task.interrupted:
            self._emit("updates", {task.name: self.graph.task_update(task)})
        if "tasks" in modes or "debug" in modes:
            payload = {
                "id": task.id,
                "name": task.name,
                "error": task.error,
                "result": {} if task.error is not None else self.graph.task_result(task),
                "interrupts": [_interrupt_dict(i) for i in task.interrupts],
            }
            if task.interrupted:  # reported after the interrupt's updates/values, as LangGraph
                self.held_results.append(payload)
            else:
                self._emit_task_result(payload)
        # with LangChain's callbacks in play its handler streams tokens and node messages
        if ("messages" in modes and task.error is None and not task.interrupted
                and not getattr(self, "lc_messages", False)):
            meta = {"langgraph_step": self.step + 1, "langgraph_node": task.name,
                    "langgraph_triggers": task.triggers, "langgraph_path": task.path,
                    "langgraph_checkpoint_ns": task.ns}
            pushed = self.pushed_message_ids
            for msg in self.graph.task_messages(task):
                if not pushed or _message_id(msg) not in pushed:
                    self._emit("messages", (msg, meta))

    def _emit_task_result(self: Loop, payload: dict[str, Any]) -> None:
        if "tasks" in self.modes:
            self._emit("tasks", payload)
        if "debug" in self.modes:
            self._emit("debug", {"step": self.step + 1, "timestamp": now_iso(),
                                 "type": "task_result", "payload": payload})

    def emit_cached_update(self: Loop, task: Task) -> None:
        """A task whose writes were restored from the checkpoint (not run again)."""
        if "updates" in self.modes and task.name != START:
            self._emit("updates", {task.name: self.graph.task_update(task),
                                   "__metadata__": {"cached": True}})

    def emit_static_interrupt(self: Loop) -> None:
        # a subgraph's static pause surfaces once, as the root's interrupt (as in LangGraph)
        if "updates" in self.modes and not self.is_subgraph:
            self._emit("updates", {"__interrupt__": ()})

    def emit_interrupts(self: Loop, interrupts: list[Any]) -> None:
        modes = self.modes
        if "updates" in modes and (interrupts or not self.is_subgraph):
            self._emit("updates", {"__interrupt__": tuple(interrupts)})
        if "values" in modes and interrupts:  # a static interrupt below adds no values chunk
            out = self.output(live=True)  # a root (non-dict) state's values are left out
            self._emit("values", {**(out if isinstance(out, dict) else {}), "__interrupt__": tuple(interrupts)})
        held, self.held_results = self.held_results, []
        for payload in held:
            self._emit_task_result(payload)


def _message_id(msg: Any) -> Any:
    return msg.get("id") if type(msg) is dict else getattr(msg, "id", None)


def _interrupt_dict(i: Any) -> Any:
    """An interrupt as the debug and tasks streams show it: a dict of its fields."""
    if dataclasses.is_dataclass(i) and not isinstance(i, type):
        return {f.name: getattr(i, f.name) for f in dataclasses.fields(i)}
    return i
