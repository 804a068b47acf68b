"""Node error handlers (``add_node(..., error_handler=...)``) in the engine: scheduling a
failed task's handler in the same step, and continuing an interrupted handler on resume
without running the failed node again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from waypoint.errors import NodeError
from waypoint.pregel.constants import PUSH
from waypoint.pregel.node import Task, make_task_id

if TYPE_CHECKING:
    from waypoint.pregel.loop import Loop


class HandlersMixin:
    """Error-handler tasks of a Loop (queued in ``handlers`` for the driver to run)."""

    def _handler_task(self: Loop, failed: Task, error: Any) -> Task | None:
        node = self.graph.nodes.get(failed.node.error_handler)  # type: ignore[arg-type]
        if node is None:
            return None
        tid = make_task_id((self.checkpoint_id, self.ns, self.step + 1), node.name, f"error:{failed.id}")
        handler = Task(self, node, tid, (PUSH, "node_error_handler", failed.id), failed.input, (PUSH,),
                       (*failed.sort_key, "error"))  # its writes apply where the failed task's would
        handler.node_error = NodeError(failed.name, error)
        failed.handled = True
        self.handlers.append(handler)
        return handler

    def _schedule_handler(self: Loop, failed: Task) -> None:
        """Queue the failed task's error handler: it runs in this step with the failed
        task's input and ``error=NodeError(node, exception)``; its writes replace the
        failed node's, and the run goes on."""
        handler = self._handler_task(failed, failed.error)
        if handler is not None:
            self.tasks.append(handler)

    def _resume_handlers(self: Loop, tasks: list[Task]) -> None:
        """A resumed step whose failed task's handler had started (it was interrupted): the
        failed node is not run again; its handler runs, with the stored error (the
        exception's repr, as LangGraph gives it) and its saved answers."""
        records = self.records
        for t in list(tasks):
            rec = records.get(t.id)
            if rec is None or rec.error is None or rec.finished or t.node.error_handler is None:
                continue
            handler = self._handler_task(t, rec.error)
            if handler is None or handler.id not in records:
                if handler is not None:  # never started: the failed node runs again
                    self.handlers.remove(handler)
                    t.handled = False
                continue
            t.done, t.error = True, rec.error
            self.handlers.remove(handler)  # planned with the step's tasks instead
            tasks.append(handler)
