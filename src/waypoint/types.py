"""Public value types of the runtime: Send, Command, Interrupt, snapshots, retry policy.

Also ``interrupt()``, which pauses the running node until the graph is resumed with
``Command(resume=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

from waypoint.cache.key import default_cache_key
from waypoint.config import var_task

__all__ = [
    "All",
    "CachePolicy",
    "Command",
    "Durability",
    "Interrupt",
    "Overwrite",
    "PregelTask",
    "RetryPolicy",
    "Send",
    "StateSnapshot",
    "StateUpdate",
    "StreamMode",
    "default_retry_on",
    "interrupt",
]

Durability = Literal["sync", "async", "exit"]
"""When checkpoints are persisted: every step before the next one starts (``sync``), in the
background before the next step's writes (``async``, the default), or only when the run ends,
is interrupted or fails (``exit``)."""

StreamMode = Literal["values", "updates", "checkpoints", "tasks", "debug", "messages", "custom"]
All = Literal["*"]

N = TypeVar("N", bound=Hashable)


@dataclass(eq=True)
class Send:
    """A packet for ``node`` carrying its own input ``arg``; the node runs in the next step
    once per Send (map-reduce). A dataclass, so checkpoints can store pending Sends."""

    node: str
    arg: Any

    __hash__ = None  # type: ignore[assignment]


@dataclass
class Interrupt:
    """A question a node asked with ``interrupt(value)``; answer it with
    ``Command(resume=...)`` (or ``Command(resume={interrupt.id: ...})``)."""

    value: Any
    id: str = "placeholder-id"


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


KeyFuncT = TypeVar("KeyFuncT", bound=Callable[..., "str | bytes"])


@dataclass(frozen=True, kw_only=True, slots=True)
class CachePolicy(Generic[KeyFuncT]):
    """Cache a node's (or task's) result: a later run with the same input (the same
    ``key_func(input)``) reuses the cached writes instead of running it, for ``ttl`` seconds
    (None: until cleared). Needs a cache on the graph (``compile(cache=InMemoryCache())``)."""

    key_func: KeyFuncT = default_cache_key  # type: ignore[assignment]
    ttl: int | None = None


def interrupt(value: Any) -> Any:
    """Pause the running node and surface ``value`` to the caller.

    The first time it runs, the graph stops and the caller sees an ``Interrupt``; when the
    graph is resumed with ``Command(resume=answer)`` the node runs again from its start and
    this call returns ``answer``. Several calls in one node are answered in order.
    """
    task = var_task.get()
    if task is None:
        raise RuntimeError("interrupt() can only be called from inside a running graph node")
    return task.interrupt(value)

