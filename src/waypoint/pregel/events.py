"""Stream chunks a run emits: values, updates, checkpoints, tasks, debug and custom."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from waypoint.checkpoint.base import now_iso
from waypoint.pregel.constants import CONF, START

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
            self._emit("values", self.output())

    def _checkpoint_payload(self: Loop, tasks: list[Task]) -> dict[str, Any]:
        parent = None
        if self.parent_id:
            parent = {CONF: {"thread_id": self.thread_id, "checkpoint_ns": self.ns,
                             "checkpoint_id": self.parent_id}}
        return {
            "config": self.current_config,
            "parent_config": parent,
            "values": self.output(),
            "metadata": {**self.user_metadata, "source": self.source, "step": self.step,
                         "parents": dict(self.checkpoint_map)},
            "next": [t.name for t in tasks],
            "tasks": [
                {"id": t.id, "name": t.name, "interrupts": t.interrupts, "state": None}
                for t in tasks
            ],
        }

    def emit_checkpoint(self: Loop, tasks: list[Task]) -> None:
        modes = self.modes
        if "checkpoints" in modes or "debug" in modes:
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
                if "tasks" in modes:
                    self._emit("tasks", payload)
                if "debug" in modes:
                    self._emit("debug", {"step": self.step + 1, "timestamp": now_iso(),
                                         "type": "task", "payload": payload})

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
                "error": repr(task.error) if task.error is not None else None,
                "result": self.graph.task_result(task) if task.error is None else None,
                "interrupts": list(task.interrupts),
            }
            if "tasks" in modes:
                self._emit("tasks", payload)
            if "debug" in modes:
                self._emit("debug", {"step": self.step + 1, "timestamp": now_iso(),
                                     "type": "task_result", "payload": payload})
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


def _message_id(msg: Any) -> Any:
    return msg.get("id") if type(msg) is dict else getattr(msg, "id", None)
