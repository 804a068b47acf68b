"""Starting a run: continue a thread in place, replay (time travel) from an addressed
checkpoint, or resolve a ``Command(resume=...)`` against the pending interrupts.

Mixed into ``Loop``; no I/O (the starting checkpoint is loaded by ``Pregel``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from waypoint.errors import AmbiguousResumeError, EmptyInputError, InvalidUpdateError
from waypoint.pregel.algo import NullResume, ReplayBound
from waypoint.pregel.constants import CONF, K_RESUME_STEP, NULL_TASK_ID
from waypoint.types import Command, Interrupt

if TYPE_CHECKING:
    from waypoint.pregel.loop import Loop

_EMPTY: dict[str, Any] = {}


class StartMixin:
    """``start`` and the resume/replay decisions of a Loop."""

    def start(self: Loop, saved: Any, input: Any) -> None:
        """Load the starting checkpoint (a CheckpointTuple or None) and apply the input."""
        conf = self.config.get(CONF) or _EMPTY
        null_writes = self.load(saved)
        # the run may take recursion_limit steps past the step after its starting checkpoint
        # (LangGraph's count: a resumed run gets one step more than a new input's run)
        self.stop = self.step + 2 + self.recursion_limit
        if self.is_subgraph and saved and input is not None and (
            self.parent_resuming
            or self.addressed
            or (conf.get(K_RESUME_STEP) and self._plan(for_run=False))
        ):
            # a re-run of an interrupted/failed or replayed subgraph task continues it, and so
            # does a subgraph with unfinished work when its parent resumes
            input = None
        if input is None or isinstance(input, Command):
            self._start_resume(saved, input, null_writes, conf)
        else:
            self._start_input(saved, input)

    def _start_resume(self: Loop, saved: Any, cmd: Command | None, null_writes: list, conf: dict) -> None:
        """Continue a thread: resume it in place, or replay from an addressed checkpoint."""
        if cmd is not None and cmd.graph == Command.PARENT:
            raise InvalidUpdateError("Command(graph=Command.PARENT) cannot be used as graph input")
        writes = self.graph.command_writes(cmd) if cmd is not None else []
        resume = cmd is not None and cmd.resume is not None
        if not saved:
            if resume or cmd is None:
                raise EmptyInputError(
                    "Nothing to resume: this thread has no checkpoint. Invoke the graph with "
                    "input first (with a checkpointer and the same config['configurable']"
                    "['thread_id'])"
                )
            self._start_input(None, None, extra=writes)
            return
        if self.addressed and not resume:
            # time travel: finished tasks of the addressed checkpoint run again, on a branch
            self.records, null_writes = {}, []
            self.resume_step = False
            if not self.is_subgraph:
                self.replay = ReplayBound(self._replay_bound(saved), self.targets)
            if saved.metadata.get("source") not in ("update", "fork") or (
                self.head_id is not None and self.head_id != saved.checkpoint["id"]
            ):
                self._new_checkpoint("fork")
        else:
            self.resume_step = True
        self._apply_null(null_writes)
        if writes:
            self._save_writes(NULL_TASK_ID, "", writes)
            self._apply_null(writes)
        if resume:
            self._resolve_resume(cmd.resume)  # type: ignore[union-attr]
        self._mark_resumed()
        self.emit_values()

    def _replay_bound(self: Loop, saved: Any) -> str:
        """The parent checkpoint whose subgraph states a replay of ``saved`` starts from:
        ``saved`` itself, or for an update/fork checkpoint (written after its subgraphs ran)
        its parent."""
        if saved.metadata.get("source") in ("update", "fork") and self.parent_id:
            return self.parent_id
        return saved.checkpoint["id"]

    def _resolve_resume(self: Loop, resume: Any) -> None:
        """A mapping of pending interrupt ids answers those interrupts; any other value is
        taken by the first unanswered ``interrupt()`` of the run (as in LangGraph, so a resume
        reaches an interrupt whose task id changed, e.g. after ``update_state`` forked it)."""
        pending = [i for r in self.records.values() if not r.finished for i in r.interrupts]
        ids = {i.id for i in pending if isinstance(i, Interrupt)}
        if isinstance(resume, dict) and resume and all(k in ids for k in resume):
            self.resume_map = dict(resume)
            return
        if len(ids) <= 1:
            if not ids and not self._plan(for_run=False):
                raise InvalidUpdateError(
                    "Command(resume=...) found no pending interrupt and no task to run on "
                    "this thread's checkpoint; pass new input to start another run"
                )
            self.null_resume = NullResume(resume)
            return
        raise AmbiguousResumeError(
            f"{len(ids)} interrupts are pending ({sorted(ids)}): resume them with a mapping "
            "Command(resume={interrupt.id: value, ...})",
            pending_ids=sorted(ids),
        )

