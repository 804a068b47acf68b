"""``@entrypoint``: a function compiled into a persisted workflow (``FunctionalGraph``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from waypoint.channels.ephemeral_value import EphemeralValue
from waypoint.channels.last_value import LastValue
from waypoint.errors import InvalidGraphError
from waypoint.func.graph import FunctionalGraph
from waypoint.func.inject import injected, kwargs_for
from waypoint.func.tasks import check_cache_policy, check_timeout, renamed, retry_policies
from waypoint.graph._called import called_subgraph
from waypoint.graph.branch import is_async_callable
from waypoint.pregel.main import Pregel
from waypoint.pregel.constants import END, PREVIOUS, START
from waypoint.pregel.node import PregelNode, Task, traced
from waypoint.pregel.runnable import register
from waypoint.types import RetryPolicy
from waypoint.warnings import LangGraphDeprecatedSinceV05, LangGraphDeprecatedSinceV10

ContextT = TypeVar("ContextT")
R = TypeVar("R")
S = TypeVar("S")


class entrypoint(Generic[ContextT]):
    """Decorator making a function a workflow: ``@entrypoint(checkpointer=..., store=...)``.

    The function takes one input (use a dict for several values) and may declare ``previous``
    (what the last run on the thread returned, or saved with ``entrypoint.final``), ``config``,
    ``runtime``, ``store`` and ``writer``, which are passed by name. The result is a graph:
    ``invoke``/``ainvoke``/``stream``/``astream``, ``get_state``/``get_state_history``/
    ``update_state`` and their async twins. ``retry_policy`` retries the function and is the
    default for tasks it calls; ``context_schema`` types ``invoke(..., context=...)``.
    ``cache`` holds cached results of tasks with a ``cache_policy``; ``cache_policy`` here
    caches the workflow's own result by input and is the default for its tasks. ``timeout``
    limits each attempt of an async entrypoint (as ``@task(timeout=...)``).
    """

    def __init__(
        self,
        checkpointer: Any = None,
        store: Any = None,
        cache: Any = None,
        context_schema: type[ContextT] | None = None,
        cache_policy: Any = None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> None:
        old = renamed(kwargs, {"retry": ("retry_policy", LangGraphDeprecatedSinceV05),
                               "config_schema": ("context_schema", LangGraphDeprecatedSinceV10)},
                      "entrypoint")
        retry_policy = retry_policy or old.get("retry_policy")
        context_schema = context_schema or old.get("context_schema")
        if cache is not None and not all(
            callable(getattr(cache, m, None)) for m in ("get", "aget", "set", "aset", "clear", "aclear")
        ):
            raise InvalidGraphError(
                f"entrypoint(cache=...) needs a cache such as waypoint.cache.memory.InMemoryCache(), got {cache!r}"
            )
        self.checkpointer = checkpointer
        self.store = store
        self.cache = cache
        self.context_schema = context_schema
        self.cache_policy = check_cache_policy(cache_policy)
        self.retry_policy = retry_policies(retry_policy)
        self.timeout = timeout

    @dataclass(kw_only=True, slots=True, frozen=True)
    class final(Generic[R, S]):
        """Return ``value`` to the caller while saving ``save`` as the thread's ``previous``."""

        value: R
        save: S

    def __call__(self, func: Callable[..., Any]) -> FunctionalGraph:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise InvalidGraphError(
                f"@entrypoint cannot decorate the generator {func.__name__!r}: return the result "
                "instead, and stream progress with the injected `writer` (stream_mode='custom')"
            )
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        if not params:
            raise InvalidGraphError(
                f"@entrypoint function {getattr(func, '__name__', func)!r} must take one "
                "parameter, its input (use a dict to pass several values)"
            )
        name = getattr(func, "__name__", type(func).__name__)
        sync, asy = _callables(func)
        node = PregelNode(
            name,
            triggers=(START,),
            func=sync,
            afunc=asy,
            read=_read_input,
            write=_write_result,
            retry_policy=self.retry_policy,
            subgraph=called_subgraph(func, Pregel),  # a workflow it invokes: inspectable state
            bound=func,
            timeout=check_timeout(func, name, self.timeout),
        )
        graph = FunctionalGraph(
            nodes={name: node},
            channels={START: EphemeralValue(Any, key=START), END: LastValue(Any, END),
                      PREVIOUS: LastValue(Any, PREVIOUS)},
            output_keys=(END,),
            state_keys=(END,),
            checkpointer=self.checkpointer,
            store=self.store,
            cache=self.cache,
            cache_policy=self.cache_policy,
        )
        graph.context_schema = self.context_schema
        graph.retry_policy = self.retry_policy
        register(FunctionalGraph)  # a Runnable for LangChain when LangChain is already imported
        return graph


def _read_input(values: dict[str, Any]) -> Any:
    return values.get(START)


def _write_result(task: Task, out: Any) -> None:
    if isinstance(out, entrypoint.final):
        task.writes.extend(((END, out.value), (PREVIOUS, out.save)))
    else:
        task.writes.extend(((END, out), (PREVIOUS, out)))


def _callables(fn: Callable[..., Any]) -> tuple[Any, Any]:
    names = injected(fn, skip_first=True)
    if is_async_callable(fn):

        async def afunc(inp: Any, task: Task) -> Any:
            return await fn(inp, **kwargs_for(task, names, (inp,), {}))

        return traced(None, afunc)

    def func(inp: Any, task: Task) -> Any:
        return fn(inp, **kwargs_for(task, names, (inp,), {}))

    return traced(func, None)
