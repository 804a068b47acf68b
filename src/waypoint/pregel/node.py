"""What the engine knows about a node, and the Task object for one run of a node in a step.

A builder (``waypoint.graph``) compiles each node into a ``PregelNode``: trigger channels, a
reader building the node's input from channel values, the callable(s), and a writer turning
the node's output into channel writes. The engine plans ``Task``s from nodes each step.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from xxhash import xxh3_128_hexdigest

from waypoint.errors import GraphInterrupt
from waypoint.pregel.cache import namespace
from waypoint.pregel.constants import (
    CONF,
    K_CHECKPOINT_MAP,
    K_CHECKPOINTER,
    K_CONTROL,
    K_DURABILITY,
    K_PARENT,
    K_RESUME_MAP,
    K_RESUMING,
    K_STORE,
    K_STREAM,
    NS_END,
    NS_SEP,
    PULL,
    PUSH,
)
from waypoint.types import Interrupt, RetryPolicy

if TYPE_CHECKING:
    from waypoint.pregel.loop import Loop

Writes = list[tuple[str, Any]]


class PregelNode:
    """A compiled node.

    ``func(input, task)`` / ``afunc(input, task)`` run the user code (either may be None);
    ``read(values)`` builds the input from the loop's channel values (``values`` maps channel
    -> current value); ``write(task, output)`` / ``awrite`` append the output's channel writes
    to ``task.writes`` (``awrite`` awaits async routing functions).
    """

    __slots__ = (
        "name",
        "triggers",
        "func",
        "afunc",
        "read",
        "read_send",
        "write",
        "awrite",
        "retry_policy",
        "subgraph",
        "metadata",
        "cache_policy",
        "cache_ns",
        "timeout",
        "error_handler",
    )

    def __init__(
        self,
        name: str,
        *,
        triggers: Sequence[str],
        func: Callable[[Any, Task], Any] | None,
        afunc: Callable[[Any, Task], Awaitable[Any]] | None,
        read: Callable[[dict[str, Any]], Any],
        write: Callable[[Task, Any], None],
        awrite: Callable[[Task, Any], Awaitable[None]] | None = None,
        read_send: Callable[[Any], Any] | None = None,
        retry_policy: Sequence[RetryPolicy] | RetryPolicy | None = None,
        subgraph: Any = None,
        metadata: dict[str, Any] | None = None,
        cache_policy: Any = None,
        bound: Any = None,
        timeout: Any = None,
        error_handler: str | None = None,
    ) -> None:
        """``bound`` is the user's code (its ``module.qualname`` names the node's cache)."""
        self.name = name
        self.triggers = tuple(triggers)
        self.func = func
        self.afunc = afunc
        self.read = read
        self.read_send = read_send or (lambda arg: arg)
        self.write = write
        self.awrite = awrite
        self.retry_policy = retry_policy
        self.subgraph = subgraph
        self.metadata = metadata or {}
        self.cache_policy = cache_policy
        self.timeout = timeout  # a coerced TimeoutPolicy (async nodes only)
        self.error_handler = error_handler  # the node run when this one fails
        self.cache_ns = namespace(bound if bound is not None else func or afunc, name)


def make_task_id(
    prefix: tuple[str, str, int | str] | str, name: str, path: str, triggers: Sequence[str] = ()
) -> str:
    """Deterministic uuid-shaped id of a task planned from checkpoint ``prefix[0]`` in
    namespace ``prefix[1]`` at step ``prefix[2]``.

    The same ids as LangGraph's runtime (XXH3-128 of the checkpoint id's bytes followed by the
    task's namespace, the step, the node, and ``PULL`` plus its sorted triggers or ``PUSH``
    plus its index), so pending writes saved by either runtime belong to the same tasks when
    the other one plans the step: a LangGraph thread interrupted mid-step resumes on waypoint.
    """
    if isinstance(prefix, str):  # a caller's own unique prefix (no LangGraph counterpart)
        prefix = (prefix, "", "")
    checkpoint_id, ns, step = prefix
    task_ns = f"{ns}{NS_SEP}{name}" if ns else name
    if path == PULL:
        parts: tuple[str, ...] = (PULL, *sorted(triggers))
    elif path.startswith(PUSH + NS_END):
        parts = (PUSH, path[len(PUSH) + 1 :])
    elif path.startswith(PUSH + NS_SEP):  # a call from a running task: PUSH|parent path|index
        parts = tuple(path.split(NS_SEP))
    else:
        parts = (path,)
    try:
        key = bytes.fromhex(checkpoint_id.replace("-", ""))
    except ValueError:  # not a uuid-shaped id (hand-made in tests, imported data)
        key = checkpoint_id.encode()
    h = xxh3_128_hexdigest(key + "".join((task_ns, str(step), name, *parts)).encode())
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def interrupt_id(task_ns: str, index: int) -> str:
    """Id of the ``index``-th interrupt of the task in ``task_ns`` (LangGraph's ids)."""
    return xxh3_128_hexdigest((f"{task_ns}{NS_SEP}{index}" if index else task_ns).encode())


def _noop_writer(chunk: Any) -> None:
    return None


class Task:
    """One execution of a node in a step; also the scratchpad ``interrupt()`` reads."""

    __slots__ = (
        "id",
        "name",
        "path",
        "node",
        "input",
        "triggers",
        "writes",
        "loop",
        "ns",
        "resume",
        "icount",
        "error",
        "interrupts",
        "interrupted",
        "done",
        "parent_command",
        "sort_key",
        "resuming",
        "output",
        "attempt",
        "created",
        "_config",
        "_runtime",
        "cache_key",
        "next_call",
        "future",
        "direct",
        "progress",
        "node_error",
        "handled",
    )

    def __init__(
        self,
        loop: Loop,
        node: PregelNode,
        task_id: str,
        path: tuple[Any, ...],
        input: Any,
        triggers: Sequence[str],
        sort_key: tuple[Any, ...],
    ) -> None:
        self.loop = loop
        self.node = node
        self.name = node.name
        self.id = task_id
        self.path = path
        self.input = input
        self.triggers = triggers
        self.sort_key = sort_key
        self.writes: Writes = []
        seg = f"{node.name}{NS_END}{task_id}"
        self.ns = f"{loop.ns}{NS_SEP}{seg}" if loop.ns else seg
        self.resume: list[Any] = []
        self.icount = 0
        self.error: BaseException | None = None
        self.interrupts: tuple[Interrupt, ...] = ()
        self.interrupted = False
        self.done = False
        self.parent_command: Any = None
        self.resuming = False
        self.output: Any = None
        self.attempt = 1
        self.created = time.time()
        self._config: dict[str, Any] | None = None
        self._runtime: Any = None
        self.cache_key: Any = None
        # functional API: index of this task's next ``@task`` call (never reset by a retry, as
        # in LangGraph), and for a called task the future its caller holds
        self.next_call = itertools.count().__next__
        self.future: Any = None
        self.direct = False
        self.progress: Any = None  # the running attempt's timeout.Attempt, when timed
        self.node_error: Any = None  # an error handler's NodeError (its ``error`` argument)
        self.handled = False  # failed, and its node's error handler runs instead

    def __repr__(self) -> str:
        return f"Task({self.name!r}, id={self.id!r}, path={self.path!r})"

    def reset(self) -> None:
        """Forget a failed attempt's writes (before a retry)."""
        self.writes = []
        self.icount = 0
        self.output = None
        self.attempt += 1
        self._runtime = None

    @property
    def config(self) -> dict[str, Any]:
        """The config the node sees (also what subgraphs it runs inherit)."""
        if self._config is None:
            self._config = self.loop.task_config(self)
        return self._config

    @property
    def runtime(self) -> Any:
        """The ``waypoint.runtime.Runtime`` the node sees (built when first asked for)."""
        if self._runtime is None:
            from waypoint.runtime import task_runtime

            self._runtime = task_runtime(self)
        return self._runtime

    @property
    def store(self) -> Any:
        return self.loop.store

    @property
    def writer(self) -> Callable[[Any], None]:
        write = self.loop.custom_writer or _noop_writer
        progress = self.progress
        if progress is None or not progress.auto:
            return write

        def touching(chunk: Any) -> None:  # a custom stream write is progress
            progress.touch()
            write(chunk)

        return touching

    def heartbeat(self) -> None:
        """Record progress for the running attempt's ``idle_timeout`` (no-op otherwise)."""
        progress = self.progress
        if progress is not None:
            progress.touch()

    def interrupt(self, value: Any, response_schema: Any = None, validate: Any = None) -> Any:
        """The answer to this task's next ``interrupt()`` call, or GraphInterrupt. ``validate``
        checks (and converts) an answer before it is kept: one it rejects is not kept."""
        idx = self.icount
        self.icount += 1
        if idx < len(self.resume):
            answer = self.resume[idx]
            return validate(answer) if validate is not None else answer
        null_resume = self.loop.null_resume  # a Command(resume=value) not addressed by id
        if null_resume is not None and idx == len(self.resume):
            if validate is not None and null_resume.taken_by is None:
                validate(null_resume.value)  # before take(): a rejected answer stays unused
            taken, answer = null_resume.take(self)
            if taken:
                self.resume.append(answer)
                return validate(answer) if validate is not None else answer
        raise GraphInterrupt(
            (Interrupt(value=value, id=interrupt_id(self.ns, idx), response_schema=response_schema),)
        )

    def read_fresh(self, read: Callable[[dict[str, Any]], Any]) -> Any:
        """The state as this task sees it after its own writes (for routing functions)."""
        loop = self.loop
        values = loop.values_with(self.writes)
        if loop.graph.managed:
            values = {**values, **loop.managed_values()}
        return read(values)


def child_configurable(loop: Loop, task: Task) -> dict[str, Any]:
    """configurable keys a task passes down to subgraphs it runs."""
    conf = dict(loop.config.get(CONF) or {})
    conf.pop("checkpoint_id", None)
    conf["checkpoint_ns"] = task.ns
    conf[K_PARENT] = True
    conf[K_CHECKPOINTER] = loop.checkpointer
    conf[K_STORE] = loop.store
    conf[K_CHECKPOINT_MAP] = {**loop.checkpoint_map, loop.ns: loop.checkpoint_id}
    conf[K_RESUME_MAP] = loop.resume_map
    conf[K_RESUMING] = task.resuming
    conf[K_STREAM] = loop.child_stream
    conf[K_DURABILITY] = loop.durability
    conf[K_CONTROL] = loop.control
    return conf


def traced(func: Callable[[Any, Task], Any] | None, afunc: Any = None) -> tuple[Any, Any]:
    """``(func, afunc)`` that run as child runs of the graph's LangChain run when the run has
    one (``loop.lc_run``); without callbacks this costs one attribute check per task."""
    from waypoint import _langchain

    sync = None
    if func is not None:

        def sync(inp: Any, task: Task) -> Any:
            if getattr(task.loop, "lc_run", None) is None:
                return func(inp, task)
            return _langchain.call_node(func, inp, task)

    asy = None
    if afunc is not None:

        async def asy(inp: Any, task: Task) -> Any:
            if getattr(task.loop, "lc_run", None) is None:
                return await afunc(inp, task)
            return await _langchain.acall_node(afunc, inp, task)

    return sync, asy


def task_config(loop: Loop, task: Task) -> dict[str, Any]:
    """The config a node sees: the run's config, the task's namespace and metadata (and,
    in a traced run, the callbacks making it a child run of the graph's run)."""
    meta = {
        **(loop.config.get("metadata") or {}),
        "langgraph_step": loop.step + 1,
        "langgraph_node": task.name,
        "langgraph_triggers": task.triggers,
        "langgraph_path": task.path,
        "langgraph_checkpoint_ns": task.ns,
    }
    cfg = {**loop.config, CONF: child_configurable(loop, task), "metadata": meta}
    lc_run = getattr(loop, "lc_run", None)
    if lc_run is not None:
        cfg["callbacks"] = lc_run.child(loop.step + 1)
        cfg.pop("run_name", None)
        cfg.pop("run_id", None)
    return cfg
