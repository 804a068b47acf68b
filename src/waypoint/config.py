"""Access to the running node's config, store and stream writer (``get_config()``,
``get_store()``, ``get_stream_writer()``).

The engine sets ``var_task`` around each task it runs; the task object builds its config
lazily, so nodes that never ask for it cost nothing. Outside a node these helpers raise
(``get_stream_writer`` returns a no-op).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from waypoint.store.base import BaseStore

# The running task (waypoint.pregel.task.Task): has .config, .store, .writer, .interrupt().
var_task: ContextVar[Any] = ContextVar("waypoint_task", default=None)
# Explicit overrides, for code that runs a node function outside the engine.
var_config: ContextVar[dict[str, Any] | None] = ContextVar("waypoint_config", default=None)
var_store: ContextVar["BaseStore | None"] = ContextVar("waypoint_store", default=None)
var_writer: ContextVar[Any] = ContextVar("waypoint_stream_writer", default=None)


def get_config() -> dict[str, Any]:
    """The RunnableConfig-style dict of the node that is running now."""
    task = var_task.get()
    if task is not None:
        return task.config
    config = var_config.get()
    if config is None:
        raise RuntimeError("get_config() called outside of a running waypoint node")
    return config


def get_store() -> "BaseStore":
    """The store passed to ``compile(store=...)``, from inside a node."""
    task = var_task.get()
    store = task.store if task is not None else var_store.get()
    if store is None:
        raise RuntimeError(
            "get_store() found no store: compile the graph with store=... "
            "and call it from inside a node"
        )
    return store


def _noop(chunk: Any) -> None:
    return None


def get_stream_writer() -> Callable[[Any], None]:
    """A callable that emits a chunk on the ``custom`` stream mode (no-op when nobody
    streams ``custom``, or outside a node)."""
    task = var_task.get()
    if task is not None:
        return task.writer
    writer = var_writer.get()
    return writer if writer is not None else _noop
