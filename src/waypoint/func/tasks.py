"""``@task``: a function whose calls run as persisted tasks of the running workflow."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from typing_extensions import ParamSpec

from waypoint.errors import InvalidGraphError
from waypoint.func.inject import injected, kwargs_for
from waypoint.graph.branch import is_async_callable
from waypoint.pregel.call import call_task
from waypoint.pregel.constants import PUSH, RETURN
from waypoint.pregel.node import PregelNode, Task, traced
from waypoint.types import RetryPolicy

P = ParamSpec("P")
T = TypeVar("T")


def retry_policies(policy: RetryPolicy | Sequence[RetryPolicy] | None) -> tuple[RetryPolicy, ...] | None:
    if policy is None:
        return None
    if isinstance(policy, RetryPolicy):
        return (policy,)
    policies = tuple(policy)
    for p in policies:
        if not isinstance(p, RetryPolicy):
            raise TypeError(f"retry_policy must be a RetryPolicy or a sequence of them, got {p!r}")
    return policies or None


def _write_return(task: Task, out: Any) -> None:
    task.writes.append((RETURN, out))


def check_cache_policy(policy: Any) -> Any:
    from waypoint.types import CachePolicy

    if policy is not None and not isinstance(policy, CachePolicy):
        raise InvalidGraphError(
            f"cache_policy must be a waypoint.types.CachePolicy, got {policy!r}; "
            "e.g. @task(cache_policy=CachePolicy(ttl=60))"
        )
    return policy


def check_timeout(fn: Callable[..., Any], name: str, timeout: Any) -> Any:
    """``timeout`` as a ``TimeoutPolicy`` (None: no limit); only async functions can have one."""
    from waypoint.types import TimeoutPolicy

    try:
        policy = TimeoutPolicy.coerce(timeout)
    except ValueError as exc:
        raise InvalidGraphError(f"timeout={timeout!r}: {exc}") from None
    if policy is not None and not is_async_callable(fn):
        raise InvalidGraphError(
            f"{name!r} has a timeout but is sync: timeouts need an async function (async def), "
            "since sync Python code cannot be cancelled safely in-process"
        )
    return policy


def renamed(kwargs: dict[str, Any], allowed: dict[str, tuple[str, Any]], where: str) -> dict[str, Any]:
    """LangGraph's deprecated argument names (warned about as LangGraph does); others refused."""
    import warnings

    out = {}
    for old, value in kwargs.items():
        if old not in allowed:
            raise TypeError(f"{where}() got an unexpected argument {old!r}")
        new, category = allowed[old]
        warnings.warn(category(f"`{old}` is deprecated: use `{new}`"), stacklevel=3)
        out[new] = value
    return out


def task_node(
    fn: Callable[..., Any],
    name: str,
    retry: tuple[RetryPolicy, ...] | None,
    cache_policy: Any = None,
    timeout: Any = None,
) -> PregelNode:
    """The engine node that runs ``fn(*args, **kwargs)`` for a call (input ``(args, kwargs)``)."""
    names = injected(fn, skip_first=False)
    func: Any = None
    afunc: Any = None
    if is_async_callable(fn):

        async def afunc(inp: Any, task: Task) -> Any:
            args, kwargs = inp
            return await fn(*args, **kwargs_for(task, names, args, kwargs))

    else:

        def func(inp: Any, task: Task) -> Any:
            args, kwargs = inp
            return fn(*args, **kwargs_for(task, names, args, kwargs))

    func, afunc = traced(func, afunc)
    return PregelNode(name, triggers=(PUSH,), func=func, afunc=afunc, read=lambda values: None,
                      write=_write_return, retry_policy=retry, cache_policy=cache_policy, bound=fn,
                      timeout=timeout)


class TaskFunction(Generic[P, T]):
    """A ``@task``: calling it inside a workflow starts a task and returns its future
    (``.result()`` in sync code, ``await`` in async code)."""

    is_waypoint_task = True  # graph nodes referring to a task keep the driver free (graph/_called.py)

    def __init__(
        self,
        func: Callable[P, Awaitable[T]] | Callable[P, T],
        *,
        retry_policy: tuple[RetryPolicy, ...] | None,
        cache_policy: Any,
        name: str | None,
        timeout: Any = None,
    ) -> None:
        self.func = func
        self.retry_policy = retry_policy
        self.cache_policy = cache_policy
        self.name = name or getattr(func, "__name__", type(func).__name__)
        self.timeout = check_timeout(func, self.name, timeout)
        self.node = task_node(func, self.name, retry_policy, cache_policy, self.timeout)
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        return call_task(self.node, args, kwargs)

    def clear_cache(self, cache: Any) -> None:
        """Drop this task's cached results from ``cache`` (the workflow's ``cache=``)."""
        cache.clear([self.node.cache_ns])

    async def aclear_cache(self, cache: Any) -> None:
        """Async twin of ``clear_cache``."""
        await cache.aclear([self.node.cache_ns])

    def __repr__(self) -> str:
        return f"<task {self.name}>"


def task(
    __func_or_none__: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
    cache_policy: Any = None,
    timeout: Any = None,
    **kwargs: Any,
) -> Any:
    """Make a function a task of the functional API (``@task`` or ``@task(...)``).

    Called from inside an ``@entrypoint`` (or another task, or a graph node) it runs
    concurrently with its caller and returns a future. With a checkpointer its result is saved
    as soon as it finishes, so a workflow resumed after an interrupt or a crash gets the saved
    result instead of running it again. ``retry_policy`` retries failures as for graph nodes;
    ``name`` names the task in streams and state (default: the function's name).
    ``cache_policy`` (a ``CachePolicy``) reuses the result of an earlier call with the same
    arguments (``key_func(*args, **kwargs)``) from the workflow's ``cache=``. ``timeout``
    (seconds, a timedelta or a ``TimeoutPolicy``) limits each attempt of an async task.
    """
    from waypoint.warnings import LangGraphDeprecatedSinceV05

    old = renamed(kwargs, {"retry": ("retry_policy", LangGraphDeprecatedSinceV05)}, "task")
    retry_policy = retry_policy or old.get("retry_policy")
    policies = retry_policies(retry_policy)
    check_cache_policy(cache_policy)

    def decorate(func: Callable[..., Any]) -> TaskFunction:
        if not callable(func):
            raise TypeError(f"@task decorates a function, got {func!r}")
        return TaskFunction(func, retry_policy=policies, cache_policy=cache_policy, name=name, timeout=timeout)

    if __func_or_none__ is not None:
        return decorate(__func_or_none__)
    return decorate
