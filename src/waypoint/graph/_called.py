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


def called_subgraph(fn: Any, graph_type: type) -> Any:
    """The first instance of ``graph_type`` a node function refers to by name (a closure
    variable or a global it uses, or the object a bound method belongs to), or None.
    Graphs compiled with ``checkpointer=False`` keep no state and are not counted."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    target = getattr(fn, "__func__", fn)
    if not inspect.isfunction(target):
        target = getattr(type(fn), "__call__", None)
        if not inspect.isfunction(target):
            return None
    try:
        refs = inspect.getclosurevars(target)
    except (TypeError, ValueError):
        return None
    bound = getattr(fn, "__self__", None)
    for value in (bound, *refs.nonlocals.values(), *refs.globals.values()):
        if isinstance(value, graph_type) and value.checkpointer is not False:
            return value
    return None
