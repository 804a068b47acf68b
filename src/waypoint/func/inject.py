"""Arguments the functional API passes to entrypoints and tasks when they declare them.

A parameter named ``config``, ``previous``, ``runtime``, ``store`` or ``writer`` (positional-or-
keyword or keyword-only) is filled in by name, as LangGraph does, unless the caller passed it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

INJECTABLE = ("config", "previous", "runtime", "store", "writer")


def injected(fn: Callable[..., Any], *, skip_first: bool) -> tuple[tuple[str, int | None], ...]:
    """``(name, positional index or None)`` of the parameters of ``fn`` to fill in; the
    entrypoint's first parameter (its input) is never one of them."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return ()
    out = []
    for i, p in enumerate(params):
        if skip_first and i == 0:
            continue
        if p.name in INJECTABLE and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            out.append((p.name, i if p.kind == p.POSITIONAL_OR_KEYWORD else None))
    return tuple(out)


def value(task: Any, name: str) -> Any:
    if name == "config":
        return task.config
    if name == "previous":
        return task.runtime.previous
    if name == "runtime":
        return task.runtime
    if name == "store":
        return task.store
    return task.writer


def kwargs_for(task: Any, names: tuple[tuple[str, int | None], ...], args: tuple, kwargs: dict) -> dict[str, Any]:
    """``kwargs`` plus the injected values the call did not pass itself."""
    if not names:
        return kwargs
    out = dict(kwargs)
    for name, index in names:
        if name in out or (index is not None and index < len(args)):
            continue
        out[name] = value(task, name)
    return out
