"""``Runtime``: run-scoped context and utilities handed to nodes (LangGraph 1.x's Runtime).

A node receives it as a parameter named ``runtime`` (``def node(state, runtime: Runtime[Ctx])``)
or calls ``get_runtime()``. ``context`` is what the caller passed as ``invoke(..., context=...)``
(a dict is turned into the graph's ``context_schema`` when that is a dataclass or pydantic
model); subgraphs see their parent's context. waypoint has no server and no cooperative
drain, so ``server_info`` and ``control`` are always None and ``heartbeat`` has nothing to
refresh (waypoint has no idle timeouts).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from waypoint.config import var_task
from waypoint.errors import ConfigError
from waypoint.pregel.constants import CONF, K_CONTEXT, K_CONTROL
from waypoint.pregel.constants import CONF, K_CONTEXT, PREVIOUS

if TYPE_CHECKING:
    from waypoint.pregel.node import Task
    from waypoint.store.base import BaseStore

ContextT = TypeVar("ContextT")

__all__ = ["ExecutionInfo", "RunControl", "Runtime", "ServerInfo", "get_runtime"]


@dataclass(frozen=True, slots=True)
class ExecutionInfo:
    """Read-only facts about the running node: its checkpoint, namespace, task and attempt."""

    checkpoint_id: str
    checkpoint_ns: str
    task_id: str
    thread_id: str | None = None
    run_id: str | None = None
    node_attempt: int = 1
    node_first_attempt_time: float | None = None

    def patch(self, **overrides: Any) -> ExecutionInfo:
        """A copy with some fields replaced."""
        return replace(self, **overrides)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Deployment metadata; waypoint runs have none (``Runtime.server_info`` is None)."""

    assistant_id: str
    graph_id: str
    user: Any = None


def _no_op_writer(chunk: Any) -> None:
    return None


def _no_op_heartbeat() -> None:
    return None


class RunControl:
    """Ask a running graph to stop cleanly: ``request_drain(reason)`` (from any thread, e.g.
    a signal handler) makes the run stop before its next step and raise ``GraphDrained``;
    the step in progress finishes and is checkpointed first. One per run; a drained control
    stays drained. Pass it as ``invoke(..., control=ctl)``; nodes see it as
    ``runtime.control`` (and subgraphs share their parent's)."""

    __slots__ = ("_reason",)

    def __init__(self) -> None:
        self._reason: str | None = None

    def request_drain(self, reason: str = "shutdown") -> None:
        self._reason = reason  # one attribute write: safe from any thread

    @property
    def drain_requested(self) -> bool:
        return self._reason is not None

    @property
    def drain_reason(self) -> str | None:
        return self._reason

    def __repr__(self) -> str:
        return f"RunControl(drain_reason={self._reason!r})"


@dataclass(kw_only=True, slots=True, frozen=True)
class Runtime(Generic[ContextT]):
    """What a node can use besides its state: the run's ``context``, the graph's ``store``,
    the ``custom`` stream's ``stream_writer``, and ``execution_info``."""

    context: ContextT = field(default=None)  # type: ignore[assignment]
    store: BaseStore | None = None
    stream_writer: Callable[[Any], None] = _no_op_writer
    heartbeat: Callable[[], None] = _no_op_heartbeat
    previous: Any = None
    execution_info: ExecutionInfo | None = None
    server_info: ServerInfo | None = None
    control: Any = None

    def merge(self, other: Runtime[ContextT]) -> Runtime[ContextT]:
        """``other``'s values where it has them, this runtime's elsewhere."""
        return Runtime(
            context=other.context or self.context,
            store=other.store or self.store,
            stream_writer=other.stream_writer
            if other.stream_writer is not _no_op_writer else self.stream_writer,
            heartbeat=other.heartbeat if other.heartbeat is not _no_op_heartbeat else self.heartbeat,
            previous=self.previous if other.previous is None else other.previous,
            execution_info=other.execution_info or self.execution_info,
            server_info=other.server_info or self.server_info,
            control=other.control or self.control,
        )

    def override(self, **overrides: Any) -> Runtime[ContextT]:
        """A copy with some fields replaced."""
        return replace(self, **overrides)

    def patch_execution_info(self, **overrides: Any) -> Runtime[ContextT]:
        """A copy whose ``execution_info`` has some fields replaced."""
        if self.execution_info is None:
            raise RuntimeError("Cannot patch execution_info before it has been set")
        return replace(self, execution_info=self.execution_info.patch(**overrides))

    @property
    def drain_requested(self) -> bool:
        return self.control.drain_requested if self.control is not None else False

    @property
    def drain_reason(self) -> str | None:
        return self.control.drain_reason if self.control is not None else None


def get_runtime(context_schema: type[ContextT] | None = None) -> Runtime[ContextT]:
    """The ``Runtime`` of the node running now (``context_schema`` only types the result)."""
    task = var_task.get()
    if task is None:
        raise RuntimeError("get_runtime() called outside of a running waypoint node")
    return task.runtime


def coerce_context(schema: Any, context: Any) -> Any:
    """``context`` as the graph's ``context_schema``: a dict becomes the dataclass or pydantic
    model it describes (as LangGraph does); anything else is kept."""
    if context is None or schema is None or not isinstance(context, dict):
        return context
    from waypoint.graph.schema import is_pydantic

    if dataclasses.is_dataclass(schema) or is_pydantic(schema):
        try:
            return schema(**context)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"context={context!r} does not fit context_schema {schema!r}: {exc}") from None
    return context


def with_context(
    config: dict[str, Any] | None, context: Any, schema: Any, control: Any = None
) -> dict[str, Any] | None:
    """``config`` carrying the run's ``context`` and ``control`` (None: unchanged, subgraphs
    inherit their parent's)."""
    if context is None and control is None:
        return config
    if config is None:
        task = var_task.get()
        config = task.config if task is not None else {}
    conf = dict(config.get(CONF) or {})
    if context is not None:
        conf[K_CONTEXT] = coerce_context(schema, context)
    if control is not None:
        if not isinstance(control, RunControl):
            raise ConfigError(f"control= must be a waypoint.runtime.RunControl, got {control!r}")
        conf[K_CONTROL] = control
    return {**config, CONF: conf}


def task_runtime(task: Task) -> Runtime[Any]:
    """The Runtime a task's node sees."""
    loop = task.loop
    run_id = loop.config.get("run_id")
    return Runtime(
        context=(loop.config.get(CONF) or {}).get(K_CONTEXT),
        store=loop.store,
        stream_writer=task.writer,
        heartbeat=task.heartbeat,
        control=loop.control,
        previous=loop.values.get(PREVIOUS),  # the functional API's saved value (else None)
        execution_info=ExecutionInfo(
            checkpoint_id=loop.checkpoint_id,
            checkpoint_ns=task.ns,
            task_id=task.id,
            thread_id=loop.thread_id,
            run_id=str(run_id) if run_id is not None else None,
            node_attempt=task.attempt,
            node_first_attempt_time=task.created,
        ),
    )
