"""``RunnableNode``: a LangChain Runnable with a sync and an async body, run as a graph node.

The prebuilt nodes (``ToolNode``, ``ValidationNode``, the agent's model node) must work both
inside a waypoint graph (sync and async runs) and on their own (``tool_node.invoke(...)``).
As Runnables, waypoint runs them with the task's config; each body also receives the
``Runtime`` of the node that is running (a default one outside a graph).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config, run_in_executor

from waypoint.config import var_task
from waypoint.runtime import Runtime

Body = Callable[[Any, RunnableConfig, Runtime[Any]], Any]
ABody = Callable[[Any, RunnableConfig, Runtime[Any]], Awaitable[Any]]


_LG_RUNTIME = "__pregel_runtime"  # where LangGraph's engine puts a node's Runtime in its config


def current_runtime(config: RunnableConfig | None = None) -> Runtime[Any]:
    """The running node's Runtime (context, store, stream writer): waypoint's; LangGraph's
    when the node runs in a LangGraph graph (same attributes); else an empty one."""
    task = var_task.get()
    if task is not None:
        return task.runtime
    theirs = ((config or {}).get("configurable") or {}).get(_LG_RUNTIME)
    return theirs if theirs is not None else Runtime()


class RunnableNode(Runnable[Any, Any]):
    """Runs ``func(input, config, runtime)`` or, from async code, ``afunc`` (``func`` in a
    thread when there is no ``afunc``)."""

    def __init__(self, func: Body | None, afunc: ABody | None = None, *, name: str | None = None,
                 tags: Sequence[str] | None = None) -> None:
        if func is None and afunc is None:
            raise TypeError("RunnableNode needs a sync or an async function")
        self.func, self.afunc = func, afunc
        self.name = name or getattr(func or afunc, "__name__", None)
        self.tags = list(tags) if tags else None

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        self._refuse(kwargs)
        if self.func is None:
            raise TypeError(
                f"{self.get_name()!r} has only an async implementation: run the graph with "
                "ainvoke/astream"
            )
        cfg = self._config(config)
        return self.func(input, cfg, current_runtime(cfg))

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        self._refuse(kwargs)
        cfg = self._config(config)
        if self.afunc is None:
            return await run_in_executor(cfg, self.func, input, cfg, current_runtime(cfg))
        return await self.afunc(input, cfg, current_runtime(cfg))

    def _refuse(self, kwargs: dict[str, Any]) -> None:
        if kwargs:
            raise TypeError(f"{self.get_name()!r}.invoke() got unexpected arguments {sorted(kwargs)}")

    def _config(self, config: RunnableConfig | None) -> RunnableConfig:
        cfg = ensure_config(config)
        if self.tags:
            cfg["tags"] = [*cfg.get("tags", []), *self.tags]
        return cfg
