"""Finding the compiled graph a node function calls, so inspection can reach its state.

LangGraph's documented pattern for a subgraph with different state keys is a node that calls
it (``def node(state): return sub.invoke(...)``). That run checkpoints under the node's task
namespace like a subgraph node; ``get_state(subgraphs=True)`` and ``update_state`` need to
know which graph reads those checkpoints.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any


def _references(fn: Any) -> tuple[Any, ...]:
    """What a node function refers to by name: the object a bound method belongs to, its
    closure variables and the globals it uses."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    target = getattr(fn, "__func__", fn)
    if not inspect.isfunction(target):
        target = getattr(type(fn), "__call__", None)
        if not inspect.isfunction(target):
            return ()
    try:
        refs = inspect.getclosurevars(target)
    except (TypeError, ValueError):
        return ()
    return (getattr(fn, "__self__", None), *refs.nonlocals.values(), *refs.globals.values())


def called_subgraph(fn: Any, graph_type: type) -> Any:
    """The first instance of ``graph_type`` a node function refers to by name (a closure
    variable or a global it uses, or the object a bound method belongs to), or None.
    Graphs compiled with ``checkpointer=False`` keep no state and are not counted."""
    for value in _references(fn):
        if isinstance(value, graph_type) and value.checkpointer is not False:
            return value
    return None


def calls_tasks(fn: Any) -> bool:
    """Whether a node function refers to a functional-API ``@task`` by name (its steps then
    never run on the driver's thread, so each called task is saved as it finishes)."""
    return any(getattr(value, "is_waypoint_task", False) is True for value in _references(fn))
