"""Every public exception of waypoint.

Each class subclasses the builtin it refines so that ``except ValueError`` and friends keep
working for users; messages name the bad value and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal


class WaypointError(Exception):
    """Base class of every waypoint-specific error."""


class ErrorCode(Enum):
    """LangGraph's error codes: each names a troubleshooting page (see create_error_message)."""

    GRAPH_RECURSION_LIMIT = "GRAPH_RECURSION_LIMIT"
    INVALID_CONCURRENT_GRAPH_UPDATE = "INVALID_CONCURRENT_GRAPH_UPDATE"
    INVALID_GRAPH_NODE_RETURN_VALUE = "INVALID_GRAPH_NODE_RETURN_VALUE"
    MULTIPLE_SUBGRAPHS = "MULTIPLE_SUBGRAPHS"
    INVALID_CHAT_HISTORY = "INVALID_CHAT_HISTORY"


def create_error_message(*, message: str, error_code: ErrorCode) -> str:
    """``message`` followed by a line pointing at LangGraph's troubleshooting page for
    ``error_code`` (the same text LangGraph's helper produces, for code that matches on it)."""
    return (
        f"{message}\nFor troubleshooting, visit: "
        f"https://docs.langchain.com/oss/python/langgraph/errors/{error_code.value}"
    )


class GraphBubbleUp(WaypointError):
    """Base of the exceptions that leave a node to steer the run rather than fail it
    (GraphInterrupt, ParentCommand): catch it to let them pass through your own handlers."""


class GraphDrained(GraphBubbleUp):
    """The run stopped at a step boundary because its ``RunControl.request_drain()`` was
    called (e.g. on SIGTERM); its last checkpoint is saved, so ``invoke(None, config)``
    continues it later. ``reason`` is what ``request_drain`` was given."""

    def __init__(self, reason: str = "shutdown") -> None:
        self.reason = reason
        super().__init__(f"Graph drained: {reason}")


@dataclass(frozen=True, slots=True)
class NodeError:
    """What an error handler (``add_node(..., error_handler=h)``) is told: the failed node's
    name and its exception. A handler receives it as its ``error`` parameter."""

    node: str
    error: BaseException


class NodeTimeoutError(WaypointError):
    """An attempt of a node ran past its ``TimeoutPolicy`` (``kind`` ``"run"`` or
    ``"idle"``). Not a ``TimeoutError`` (an ``OSError``), so a ``RetryPolicy`` with the default
    ``retry_on`` retries it."""

    def __init__(
        self, node: str, elapsed: float, *, kind: str,
        idle_timeout: float | None = None, run_timeout: float | None = None,
    ) -> None:
        if kind == "run":
            if run_timeout is None:
                raise ValueError("run_timeout is required when kind='run'")
            self.timeout = run_timeout
            what = f"its run timeout of {run_timeout:.3f}s"
        elif kind == "idle":
            if idle_timeout is None:
                raise ValueError("idle_timeout is required when kind='idle'")
            self.timeout = idle_timeout
            what = f"its idle timeout of {idle_timeout:.3f}s without progress"
        else:
            raise ValueError("kind must be 'run' or 'idle'")
        super().__init__(
            f"Node {node!r} exceeded {what} (after {elapsed:.3f}s); raise the limit in "
            "add_node(..., timeout=...) or call runtime.heartbeat() while it works"
        )
        self.node = node
        self.elapsed = elapsed
        self.kind = kind
        self.idle_timeout = idle_timeout
        self.run_timeout = run_timeout


class GraphRecursionError(WaypointError, RecursionError):
    """The graph ran more supersteps than ``recursion_limit`` allows."""


class InvalidUpdateError(WaypointError, ValueError):
    """A node or caller wrote an update the channels cannot accept."""


class InvalidGraphError(WaypointError, ValueError):
    """The graph definition is inconsistent (unknown node, missing entry point, ...)."""


class UnresolvedAnnotationError(InvalidGraphError, NameError):
    """A state schema's annotation names something that cannot be found (typically a reducer
    or type local to a function, under ``from __future__ import annotations``); a NameError
    too, as LangGraph raises."""


class UnknownInterruptError(WaypointError):
    """A ``Command(resume=...)`` that does not match the pending interrupts (LangGraph's
    name). ``reason`` says how: ``"not_pending"`` (``interrupt_ids`` are not pending),
    ``"empty_map"`` or ``"ambiguous"`` (one value while several are pending);
    ``pending_ids`` lists the interrupts still waiting. Nothing was written: answer again."""

    def __init__(
        self,
        message: str,
        *,
        reason: Literal["not_pending", "empty_map", "ambiguous"],
        interrupt_ids: Sequence[str] = (),
        pending_ids: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.interrupt_ids = tuple(interrupt_ids)
        self.pending_ids = tuple(pending_ids)


class AmbiguousResumeError(UnknownInterruptError, InvalidUpdateError, RuntimeError):
    """``Command(resume=value)`` while several interrupts are pending: resume with a mapping
    ``{interrupt.id: value}`` instead (``reason == "ambiguous"``)."""

    def __init__(self, message: str, *, pending_ids: Sequence[str] = ()) -> None:
        super().__init__(message, reason="ambiguous", pending_ids=pending_ids)


class EmptyInputError(WaypointError, ValueError):
    """The graph was invoked with input that writes no channel."""


class GraphInterrupt(GraphBubbleUp):
    """Raised inside a node by ``interrupt()``; the engine turns it into a pause."""

    def __init__(self, interrupts: Any = ()) -> None:
        super().__init__(interrupts)
        self.interrupts = tuple(interrupts)


class NodeInterrupt(GraphInterrupt):
    """Deprecated-style explicit interrupt raised by user code."""


class ParentCommand(GraphBubbleUp):
    """Carries a ``Command(graph=Command.PARENT)`` from a subgraph to its parent."""

    def __init__(self, command: Any) -> None:
        super().__init__(command)
        self.command = command


@dataclass(frozen=True, slots=True)
class NodeError:
    """What a node-level error handler receives about the failure: the node's name and the
    exception it raised (a handler asks for it with a parameter typed ``NodeError``)."""

    node: str
    error: BaseException


class NodeCancelledError(WaypointError):
    """A node's own code raised ``asyncio.CancelledError``: reported as that node's failure
    rather than taken for the engine cancelling it."""

    def __init__(self, node: str, message: str | None = None) -> None:
        super().__init__(message or f"Node {node!r} raised asyncio.CancelledError")
        self.node = node


class NodeTimeoutError(WaypointError):
    """A node ran longer than its timeout: ``kind`` is ``"run"`` (total time) or ``"idle"``
    (no progress); ``timeout`` is the limit that fired. Not a builtin ``TimeoutError`` (an
    ``OSError``), so the default retry policy retries it, as in LangGraph."""

    def __init__(
        self,
        node: str,
        elapsed: float,
        *,
        kind: Literal["idle", "run"],
        idle_timeout: float | None = None,
        run_timeout: float | None = None,
    ) -> None:
        if kind == "idle":
            if idle_timeout is None:
                raise ValueError("NodeTimeoutError(kind='idle') needs idle_timeout=")
            self.timeout = idle_timeout
            text = f"exceeded its idle timeout of {idle_timeout:.3f}s without making progress"
        elif kind == "run":
            if run_timeout is None:
                raise ValueError("NodeTimeoutError(kind='run') needs run_timeout=")
            self.timeout = run_timeout
            text = f"exceeded its run timeout of {run_timeout:.3f}s"
        else:
            raise ValueError(f"NodeTimeoutError kind must be 'idle' or 'run', got {kind!r}")
        super().__init__(f"Node '{node}' {text} (elapsed: {elapsed:.3f}s).")
        self.node = node
        self.elapsed = elapsed
        self.kind = kind
        self.idle_timeout = idle_timeout
        self.run_timeout = run_timeout


class TaskNotFound(WaypointError):
    """A task to run could not be found (LangGraph's distributed executors raise it; kept for
    code that catches it)."""


_INVALID_RESUME = "_waypoint_invalid_resume"


def mark_invalid_resume(error: BaseException) -> None:
    """Flag ``error`` as a resume value rejected by an interrupt's ``response_schema``."""
    setattr(error, _INVALID_RESUME, True)


def is_invalid_resume(error: BaseException) -> bool:
    """Whether ``error`` is an ``interrupt(..., response_schema=...)`` refusing a resume value
    (a pydantic ValidationError); the interrupt stays pending and can be answered again."""
    return getattr(error, _INVALID_RESUME, False) is True


class ParentCommandAtRootError(ParentCommand, InvalidUpdateError):
    """A node of a root graph returned ``Command(graph=Command.PARENT)``: there is no parent
    to send it to. A ParentCommand as in LangGraph (``args[0]`` is the command, ``graph=""``),
    and an InvalidUpdateError."""

    def __str__(self) -> str:
        return (
            f"A node returned {self.command!r} with graph=Command.PARENT, but this graph has no "
            "parent graph: return the Command without graph=, or run this graph as a subgraph"
        )


class EmptyChannelError(WaypointError, LookupError):
    """A channel was read before anything was written to it."""


class CheckpointError(WaypointError, RuntimeError):
    """Base class of checkpoint-storage errors."""


class ConfigError(WaypointError, ValueError):
    """A config lacks a required key (``thread_id``) or carries a bad value."""


class CheckpointReadError(CheckpointError):
    """A stored row could not be turned back into values; names thread, checkpoint and channel.

    Either its bytes are damaged (:class:`CorruptCheckpointError`) or they are intact but name a
    class this process may not load (:class:`DisallowedTypeError`).
    """

    def __init__(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        checkpoint_ns: str | None = None,
        checkpoint_id: str | None = None,
        channel: str | None = None,
    ) -> None:
        where = ", ".join(
            f"{k}={v!r}"
            for k, v in (
                ("thread_id", thread_id),
                ("checkpoint_ns", checkpoint_ns),
                ("checkpoint_id", checkpoint_id),
                ("channel", channel),
            )
            if v is not None
        )
        super().__init__(f"{message} ({where})" if where else message)
        self.thread_id = thread_id
        self.checkpoint_ns = checkpoint_ns
        self.checkpoint_id = checkpoint_id
        self.channel = channel


class CorruptCheckpointError(CheckpointReadError):
    """A stored row could not be decoded (damaged bytes, a missing blob, a malformed column)."""


class StorageError(CheckpointError):
    """A database driver failed; the original exception is chained."""


class SetupError(StorageError):
    """The schema could not be created or migrated, or a connection is misconfigured."""


class ForkedConnectionError(SetupError):
    """A saver or store opened before ``fork()`` was used in the child process, where its
    connection cannot be shared; open it in the child instead."""


class ThreadBusyError(WaypointError, RuntimeError):
    """Another run holds the lease on this thread (one writer per thread); names the thread,
    when the lease expires and who holds it."""

    def __init__(self, thread_id: str, *, retry_after: float, expires_at: Any = None, holder: str | None = None) -> None:
        self.thread_id = thread_id
        self.retry_after = max(0.0, float(retry_after))
        self.expires_at = expires_at
        self.holder = holder
        when = f" (until {expires_at.isoformat(timespec='milliseconds')})" if expires_at is not None else ""
        super().__init__(
            f"thread {thread_id!r} is busy: another run holds its lease for {self.retry_after:.1f} s more"
            f"{when}, held by {holder!r}. Retry when that run ends, or pass "
            "LeasePolicy(on_busy='wait', wait_timeout=...) (compile(lease=...) or "
            "config['configurable']['waypoint_lease']) to wait for it"
        )


class LeaseLostError(CheckpointError):
    """A run's write was refused because its lease on the thread was taken over by a newer
    run (its fencing token is stale); nothing of that write was stored."""

    def __init__(self, thread_id: str, token: int, *, current: int | None = None, holder: str | None = None) -> None:
        self.thread_id = thread_id
        self.token = token
        self.current = current
        newer = f" by {holder!r} (token {current})" if current is not None else ""
        super().__init__(
            f"lease on thread {thread_id!r} lost: this run's token {token} was taken over{newer} "
            "after its lease expired (the run stalled longer than the lease's ttl). The write was "
            "refused and nothing was stored; the newer run owns the thread now. Raise "
            "LeasePolicy(ttl=...) for nodes that block the heartbeat"
        )


class SyncOnEventLoopError(WaypointError, RuntimeError):
    """A sync method of an async backend was called on its own event loop's thread."""


class SerializationError(WaypointError, ValueError):
    """A value could not be serialized, or stored bytes could not be (safely) loaded."""


class DisallowedTypeError(CheckpointReadError, SerializationError):
    """Stored data names a class this process will not load: its module is not imported here
    (loading never imports your modules), the module has no such class, or the serializer's
    allow-list refuses it. The data itself is intact.

    Fix: import the module before loading (the CLI's ``-I MODULE``), or allow the type
    (``JsonPlusSerializer(allowed_modules=[...])`` / ``allowed_types=[...]``). Savers raise it
    with the thread, checkpoint and channel; ``type_name`` is the dotted class name.
    """

    def __init__(
        self,
        message: str,
        *,
        type_name: str,
        module: str | None = None,
        reason: str = "",
        thread_id: str | None = None,
        checkpoint_ns: str | None = None,
        checkpoint_id: str | None = None,
        channel: str | None = None,
    ) -> None:
        super().__init__(
            message, thread_id=thread_id, checkpoint_ns=checkpoint_ns,
            checkpoint_id=checkpoint_id, channel=channel,
        )
        self.type_name = type_name
        self.module = module if module is not None else type_name.rpartition(".")[0]
        self.reason = reason
        self.detail = message

    def located(self, **where: str | None) -> DisallowedTypeError:
        """The same error naming where the value is stored (thread, namespace, checkpoint, channel)."""
        return DisallowedTypeError(
            self.detail, type_name=self.type_name, module=self.module, reason=self.reason, **where
        )


def read_error(message: str, exc: BaseException | None = None, **where: str | None) -> CheckpointReadError:
    """What a saver raises for a row it cannot decode: the :class:`DisallowedTypeError` that
    caused it (now naming the place), else a :class:`CorruptCheckpointError`."""
    seen = 0
    cause = exc
    while cause is not None and seen < 16:
        if isinstance(cause, DisallowedTypeError):
            return cause.located(**where)
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return CorruptCheckpointError(message, **where)


class CorruptStoreItemError(SerializationError):
    """A stored store item could not be decoded; names its namespace and key."""

    def __init__(self, message: str, *, namespace: tuple[str, ...] | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.namespace = namespace
        self.key = key


class InvalidNamespaceError(WaypointError, ValueError):
    """A store namespace is empty, has empty or dotted labels, or uses a reserved label."""


class InvalidKeyError(WaypointError, ValueError):
    """A store key is not a non-empty str, or holds a character no database can store."""


class InvalidFilterError(WaypointError, ValueError):
    """A store search filter or checkpoint metadata filter uses an unknown operator, a
    malformed key, or a character no database can store (NUL, lone surrogates)."""


class EncryptedPlacementError(SerializationError):
    """An encrypted value was loaded from a place (thread, namespace, channel or write,
    version) other than the one it was sealed for: a copied or moved ciphertext."""


class VectorSearchUnavailableError(WaypointError, RuntimeError):
    """A store was asked for vector search it cannot do (no index, no pgvector)."""


class LangChainRequiredError(WaypointError, ImportError):
    """A feature that needs ``langchain-core`` (message formatting, ``astream_events``,
    LangChain callbacks) was used where it is not installed: ``pip install langchain-core``."""


class MessageCoercionError(InvalidUpdateError):
    """A value written to an ``add_messages`` channel is not message-like (LangChain
    message, dict with role/type and content, ``(role, content)`` tuple or string)."""


# --- waypoint.prebuilt -----------------------------------------------------------------------


class ToolInjectionError(WaypointError, ValueError):
    """A tool asks for something the tool node cannot give it: a state key the state lacks,
    the store of a graph compiled without one, or one argument marked twice."""


class ToolNodeInputError(WaypointError, ValueError):
    """A ``ToolNode`` / ``ValidationNode`` / ``tools_condition`` got input holding no messages
    or no AI message with tool calls."""


class ToolResultError(WaypointError, ValueError, TypeError):
    """A tool returned something a tool node cannot turn into state: a value of an unknown
    type, or a ``Command`` without the ``ToolMessage`` answering its tool call."""


class AgentConfigError(WaypointError, ValueError):
    """``create_react_agent`` was given inconsistent arguments (unknown version, a state schema
    missing required keys, a model bound to other tools than ``tools``)."""


class InvalidChatHistoryError(WaypointError, ValueError):
    """The agent's messages hold an AI tool call without the ToolMessage answering it."""


# --- waypoint.func ---------------------------------------------------------------------------


class TaskCallError(WaypointError, RuntimeError):
    """A functional-API ``@task`` was called where it cannot run: outside a running workflow
    (call it from an ``@entrypoint``, another ``@task`` or a graph node), or an async task
    from a sync run (use ``ainvoke``/``astream``)."""
