"""Public value types of the runtime: Send, Command, Interrupt, snapshots, retry policy.

Also ``interrupt()``, which pauses the running node until the graph is resumed with
``Command(resume=...)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, NamedTuple, TypeVar, Union

from typing_extensions import NotRequired, TypedDict

from waypoint.cache.key import default_cache_key
from waypoint.config import var_task
from waypoint.errors import ConfigError

if TYPE_CHECKING:
    from waypoint.checkpoint.base import BaseCheckpointSaver

__all__ = [
    "All",
    "CachePolicy",
    "CheckpointPayload",
    "CheckpointTask",
    "Checkpointer",
    "DebugPayload",
    "StreamWriter",
    "TaskPayload",
    "TaskResultPayload",
    "ensure_valid_checkpointer",
    "Command",
    "Durability",
    "Interrupt",
    "LeasePolicy",
    "Overwrite",
    "PregelTask",
    "RetryPolicy",
    "Send",
    "StateSnapshot",
    "StateUpdate",
    "StreamMode",
    "TimeoutPolicy",
    "default_retry_on",
    "interrupt",
]

Durability = Literal["sync", "async", "exit"]
"""When checkpoints are persisted: every step before the next one starts (``sync``), in the
background before the next step's writes (``async``, the default), or only when the run ends,
is interrupted or fails (``exit``)."""

StreamMode = Literal["values", "updates", "checkpoints", "tasks", "debug", "messages", "custom"]
All = Literal["*"]

StreamWriter = Callable[[Any], None]
"""The ``custom`` stream's writer (``get_stream_writer()``, ``runtime.stream_writer``)."""
StateT = TypeVar("StateT")
OutputT = TypeVar("OutputT")
Checkpointer = Union[None, bool, "BaseCheckpointSaver"]
"""What ``compile(checkpointer=...)`` takes: a saver; ``True`` (a subgraph keeps its own
checkpoints in its parent's saver); ``False`` (none, even under a parent); ``None`` (inherit)."""


def ensure_valid_checkpointer(checkpointer: Checkpointer) -> Checkpointer:
    """``checkpointer`` when it is a saver, True, False or None; TypeError otherwise."""
    from waypoint.checkpoint.base import BaseCheckpointSaver

    if checkpointer not in (None, True, False) and not isinstance(checkpointer, BaseCheckpointSaver):
        raise TypeError(
            f"Invalid checkpointer {type(checkpointer).__name__}: pass a checkpoint saver "
            "(e.g. InMemorySaver(), SqliteSaver(...)), True, False or None"
        )
    return checkpointer


class TaskPayload(TypedDict):
    """A ``task`` event of the ``tasks``/``debug`` streams: a task about to run."""

    id: str
    name: str
    input: Any
    triggers: list[str]
    metadata: NotRequired[dict[str, Any]]


class TaskResultPayload(TypedDict):
    """A ``task_result`` event: the task's writes to state keys, its error, its interrupts
    (as dicts)."""

    id: str
    name: str
    error: Any
    interrupts: list[dict[str, Any]]
    result: dict[str, Any]


class CheckpointTask(TypedDict):
    """A task listed in a ``checkpoint`` event (``result`` once finished, ``error`` if it
    failed; ``state``: a subgraph's checkpoint config)."""

    id: str
    name: str
    error: NotRequired[Any]
    result: NotRequired[Any]
    interrupts: NotRequired[tuple[dict[str, Any], ...]]
    state: Any


class CheckpointPayload(TypedDict, Generic[StateT]):
    """A ``checkpoints`` event (also a ``debug`` event's payload of type ``checkpoint``)."""

    config: dict[str, Any] | None
    metadata: dict[str, Any]
    values: StateT
    next: list[str]
    parent_config: dict[str, Any] | None
    tasks: list[CheckpointTask]


class DebugPayload(TypedDict, Generic[StateT]):
    """A ``debug`` event: ``type`` is ``checkpoint``, ``task`` or ``task_result``."""

    step: int
    timestamp: str
    type: Literal["checkpoint", "task", "task_result"]
    payload: Any

N = TypeVar("N", bound=Hashable)


@dataclass(eq=True)
class Send:
    """A packet for ``node`` carrying its own input ``arg``; the node runs in the next step
    once per Send (map-reduce). A dataclass, so checkpoints can store pending Sends."""

    node: str
    arg: Any

    __hash__ = None  # type: ignore[assignment]


ResponseT = TypeVar("ResponseT")


@dataclass
class Interrupt(Generic[ResponseT]):
    """A question a node asked with ``interrupt(value)``; answer it with
    ``Command(resume=...)`` (or ``Command(resume={interrupt.id: ...})``).

    ``response_schema`` is the JSON Schema of the expected answer when the node gave one
    (``interrupt(value, response_schema=...)``), for clients that render an input form.
    """

    value: Any
    id: str = "placeholder-id"
    response_schema: Any = field(default=None, kw_only=True)

    @classmethod
    def from_ns(cls, value: Any, ns: str, *, response_schema: Any = None) -> Interrupt[Any]:
        """The interrupt the first ``interrupt()`` call of the task in namespace ``ns`` makes."""
        from waypoint.pregel.node import interrupt_id

        return cls(value=value, id=interrupt_id(ns, 0), response_schema=response_schema)

    @property
    def interrupt_id(self) -> str:
        """Deprecated spelling of ``id`` (LangGraph 1.0)."""
        import warnings

        from waypoint.warnings import LangGraphDeprecatedSinceV10

        warnings.warn(LangGraphDeprecatedSinceV10("`interrupt_id` is deprecated: use `id`"), stacklevel=2)
        return self.id


@dataclass
class Overwrite:
    """Write ``value`` to a reducer channel replacing its value instead of reducing. At most
    one Overwrite per channel per step; it wins over the step's other writes. The dict forms
    ``{"__overwrite__": value}`` and ``{"type": "__overwrite__", "value": value}`` (an
    Overwrite after a JSON round trip) mean the same."""

    value: Any
    type: Literal["__overwrite__"] = "__overwrite__"


@dataclass
class Command(Generic[N]):
    """What a node returns to update state and choose where to go, or what a caller passes
    to resume an interrupted graph.

    ``update``: state update (dict, or list of (key, value)); ``goto``: node name(s) or Sends
    to run next; ``resume``: answer for pending ``interrupt()`` calls (a value, or a mapping of
    interrupt id -> value); ``graph``: ``Command.PARENT`` sends the command to the parent graph.
    """

    graph: str | None = None
    update: Any | None = None
    resume: Any | None = None
    goto: Send | Sequence[Send | N] | N = ()

    PARENT: ClassVar[Literal["__parent__"]] = "__parent__"

    def __repr__(self) -> str:
        # the fields that are set, as LangGraph shows a Command
        shown = ", ".join(
            f"{k}={v!r}"
            for k, v in (("graph", self.graph), ("update", self.update), ("resume", self.resume), ("goto", self.goto))
            if v
        )
        return f"Command({shown})"

    def update_items(self) -> list[tuple[str, Any]]:
        """The update as (key, value) pairs: a dict's items or a list of pairs (else none)."""
        upd = self.update
        if isinstance(upd, dict):
            return list(upd.items())
        if isinstance(upd, (list, tuple)) and all(
            isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) for t in upd
        ):
            return list(upd)
        return []

    def goto_list(self) -> list[Any]:
        g = self.goto
        if g is None or g == ():
            return []
        if isinstance(g, (str, Send)):
            return [g]
        return list(g)


class PregelTask(NamedTuple):
    """A task of a checkpoint's step as seen by ``get_state``: its error, the interrupts it
    raised, its subgraph state (or a config pointing to it) and its result once finished."""

    id: str
    name: str
    path: tuple[Any, ...]
    error: Any | None = None
    interrupts: tuple[Interrupt, ...] = ()
    state: Any | None = None
    result: Any | None = None


class StateSnapshot(NamedTuple):
    """The state of a graph at one checkpoint."""

    values: dict[str, Any] | Any
    next: tuple[str, ...]
    config: dict[str, Any]
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_config: dict[str, Any] | None
    tasks: tuple[PregelTask, ...]
    interrupts: tuple[Interrupt, ...] = ()


class StateUpdate(NamedTuple):
    """One update of ``bulk_update_state``: values written as if by node ``as_node``."""

    values: dict[str, Any] | Any | None
    as_node: str | None = None
    task_id: str | None = None


_NO_RETRY: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    ArithmeticError,
    ImportError,
    LookupError,
    NameError,
    SyntaxError,
    RuntimeError,
    ReferenceError,
    StopIteration,
    StopAsyncIteration,
    OSError,
)


def default_retry_on(exc: Exception) -> bool:
    """Retry transient failures: connection errors and HTTP 5xx responses, not programming
    errors (ValueError, TypeError, KeyError, ...)."""
    if isinstance(exc, ConnectionError):
        return True
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return status >= 500
    return not isinstance(exc, _NO_RETRY)


class RetryPolicy(NamedTuple):
    """How a failing node is retried: up to ``max_attempts`` runs, sleeping
    ``initial_interval * backoff_factor**n`` seconds (capped at ``max_interval``, plus random
    jitter) between them, for exceptions matched by ``retry_on`` (exception classes or a
    predicate)."""

    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    max_attempts: int = 3
    jitter: bool = True
    retry_on: (
        type[Exception] | Sequence[type[Exception]] | Callable[[Exception], bool]
    ) = default_retry_on


def _seconds(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ValueError(f"TimeoutPolicy.{field} must be seconds (a number) or a timedelta, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"TimeoutPolicy.{field} must be greater than 0, got {value!r}")
    return seconds


@dataclass(frozen=True, kw_only=True, slots=True)
class TimeoutPolicy:
    """Time limits for each attempt of an async node (``add_node(..., timeout=...)``).

    ``run_timeout``: wall-clock cap of one attempt, never extended. ``idle_timeout``: longest
    time an attempt may go without progress; progress is ``runtime.heartbeat()`` and, with
    ``refresh_on="auto"`` (the default), also custom stream writes and LangChain callback
    events of the node's runs. An attempt over a
    limit is cancelled and fails with ``NodeTimeoutError`` (retried when the node's
    ``RetryPolicy`` matches it). Seconds (number) or ``timedelta``.
    """

    run_timeout: float | timedelta | None = None
    idle_timeout: float | timedelta | None = None
    refresh_on: Literal["auto", "heartbeat"] = "auto"

    @classmethod
    def coerce(cls, value: float | timedelta | TimeoutPolicy | None) -> TimeoutPolicy | None:
        """A policy with both limits in seconds (a bare number or timedelta is a
        ``run_timeout``); None when no limit is set. Bad values raise ValueError."""
        if value is None:
            return None
        if not isinstance(value, TimeoutPolicy):
            value = cls(run_timeout=value)
        if value.refresh_on not in ("auto", "heartbeat"):
            raise ValueError(f"TimeoutPolicy.refresh_on must be 'auto' or 'heartbeat', got {value.refresh_on!r}")
        run = _seconds(value.run_timeout, "run_timeout")
        idle = _seconds(value.idle_timeout, "idle_timeout")
        if run is None and idle is None:
            return None
        return cls(run_timeout=run, idle_timeout=idle, refresh_on=value.refresh_on)


KeyFuncT = TypeVar("KeyFuncT", bound=Callable[..., "str | bytes"])


@dataclass(frozen=True, kw_only=True, slots=True)
class CachePolicy(Generic[KeyFuncT]):
    """Cache a node's (or task's) result: a later run with the same input (the same
    ``key_func(input)``) reuses the cached writes instead of running it, for ``ttl`` seconds
    (None: until cleared). Needs a cache on the graph (``compile(cache=InMemoryCache())``)."""

    key_func: KeyFuncT = default_cache_key  # type: ignore[assignment]
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class LeasePolicy:
    """How a run holds its thread's lease (``compile(lease=...)`` or, per call,
    ``config["configurable"]["waypoint_lease"]``; ``False`` runs without a lease).

    ``ttl``: seconds a lease outlives its last renewal; after a holder dies (SIGKILL, power
    loss) the thread is free again after at most this long. ``on_busy``: what a run does when
    another run holds the lease: ``"reject"`` raises ThreadBusyError before any node runs,
    ``"wait"`` retries until the lease is free (then runs on the thread's new head) or until
    ``wait_timeout`` seconds have passed (then raises ThreadBusyError).
    """

    ttl: float = 30.0
    on_busy: Literal["reject", "wait"] = "reject"
    wait_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not _positive(self.ttl):
            raise ConfigError(f"LeasePolicy(ttl={self.ttl!r}): use a number of seconds > 0, e.g. ttl=30")
        if self.on_busy not in ("reject", "wait"):
            raise ConfigError(f"LeasePolicy(on_busy={self.on_busy!r}): use 'reject' or 'wait'")
        if not (_positive(self.wait_timeout) or self.wait_timeout == 0):
            raise ConfigError(
                f"LeasePolicy(wait_timeout={self.wait_timeout!r}): use a number of seconds >= 0"
            )


def _positive(x: Any) -> bool:
    """A finite number of seconds > 0 (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def interrupt(value: Any, *, response_schema: Any = None) -> Any:
    """Pause the running node and surface ``value`` to the caller.

    The first time it runs, the graph stops and the caller sees an ``Interrupt``; when the
    graph is resumed with ``Command(resume=answer)`` the node runs again from its start and
    this call returns ``answer``. Several calls in one node are answered in order.

    ``response_schema`` describes the expected answer: a JSON Schema dict is passed on to the
    caller as is (``Interrupt.response_schema``); a pydantic model, TypedDict or dataclass is
    passed on as its JSON Schema and also validates the answer, which this call then returns
    as that type. An answer that does not validate raises pydantic's ValidationError
    (``waypoint.errors.is_invalid_resume`` tells it apart) and is not kept: the interrupt stays
    pending and can be answered again.
    """
    task = var_task.get()
    if task is None:
        raise RuntimeError("interrupt() can only be called from inside a running graph node")
    if response_schema is None:
        return task.interrupt(value)
    if isinstance(response_schema, dict):
        return task.interrupt(value, response_schema=response_schema)
    adapter = _adapter(response_schema)
    return task.interrupt(value, response_schema=adapter.json_schema(), validate=partial(_validate, adapter))


def _adapter(schema: Any) -> Any:
    try:
        from pydantic import TypeAdapter
    except ImportError:  # pragma: no cover - exercised only without pydantic
        from waypoint.errors import InvalidUpdateError

        raise InvalidUpdateError(
            f"interrupt(response_schema={schema!r}) validates answers with pydantic: "
            "pip install pydantic, or pass a JSON Schema dict (not validated)"
        ) from None
    return TypeAdapter(schema)


def _validate(adapter: Any, answer: Any) -> Any:
    from pydantic import ValidationError

    from waypoint.errors import mark_invalid_resume

    try:
        return adapter.validate_python(answer)
    except ValidationError as exc:
        mark_invalid_resume(exc)
        raise
