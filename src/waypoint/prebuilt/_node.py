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


def current_runtime() -> Runtime[Any]:
    """The running node's Runtime (context, store, stream writer), or an empty one."""
    task = var_task.get()
    return task.runtime if task is not None else Runtime()


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
        if self.func is None:
            raise TypeError(
                f"{self.get_name()!r} has only an async implementation: run the graph with "
                "ainvoke/astream"
            )
        return self.func(input, self._config(config), current_runtime())

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        cfg = self._config(config)
        if self.afunc is None:
            return await run_in_executor(cfg, self.func, input, cfg, current_runtime())
        return await self.afunc(input, cfg, current_runtime())

    def _config(self, config: RunnableConfig | None) -> RunnableConfig:
        cfg = ensure_config(config)
        if self.tags:
            cfg["tags"] = [*cfg.get("tags", []), *self.tags]
        return cfg
