"""Conditional edges and node callables: adapting user functions to the engine's calling
convention, and turning a routing function's answer into writes."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable
from typing import Any, Literal, get_args, get_origin, get_type_hints

from waypoint.errors import InvalidGraphError, InvalidUpdateError
from waypoint.pregel.constants import END, TASKS
from waypoint.types import Command, Send


def branch_channel(node: str) -> str:
    return f"branch:to:{node}"


def is_async_callable(fn: Any) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)
    return call is not None and inspect.iscoroutinefunction(call)


def _task_kwargs(fn: Any) -> tuple[bool, tuple[str, ...]]:
    """(pass config as 2nd positional, keyword names to inject) for a node/path function.

    Parameters named ``config``, ``store``, ``writer``, ``runtime`` or ``previous`` (after the
    state) are passed by keyword, as LangGraph injects them by name; any other required second
    positional parameter receives the config.
    """
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False, ()
    rest = params[1:] if params and params[0].kind != params[0].KEYWORD_ONLY else params
    kw = tuple(p.name for p in rest if p.name in _INJECTED
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    positional = [p for p in rest if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    config_pos = bool(positional) and positional[0].name not in kw and (
        positional[0].default is inspect.Parameter.empty
    )
    return config_pos, kw


_INJECTED = ("config", "store", "writer", "runtime", "previous", "error")


def _inject(task: Any, names: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        if name == "config":
            out[name] = task.config
        elif name == "store":
            out[name] = task.store
        elif name == "writer":
            out[name] = task.writer
        elif name == "runtime":
            out[name] = task.runtime
        elif name == "error":  # an error handler's NodeError (None in other nodes)
            out[name] = getattr(task, "node_error", None)
        else:  # previous: the functional API's last return value; a graph node has none
            out[name] = None
    return out


def adapt(fn: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    """``fn`` as ``call(input, task)`` (passing config / store / writer when it asks)."""
    config_pos, kw = _task_kwargs(fn)
    if not config_pos and not kw:
        return lambda inp, task: fn(inp)
    if config_pos and not kw:
        return lambda inp, task: fn(inp, task.config)
    if config_pos:
        return lambda inp, task: fn(inp, task.config, **_inject(task, kw))
    return lambda inp, task: fn(inp, **_inject(task, kw))


def literal_destinations(fn: Any) -> tuple[str, ...] | None:
    """Destinations named by a ``Literal[...]`` (or ``Command[Literal[...]]``) return hint."""
    target = getattr(fn, "__call__", fn) if not inspect.isfunction(fn) else fn
    try:
        hint = get_type_hints(target).get("return")
    except Exception:
        hint = getattr(target, "__annotations__", {}).get("return")
    if hint is None:
        return None
    if get_origin(hint) is Command or (isinstance(hint, type) and issubclass(hint, Command)):
        args = get_args(hint)
        hint = args[0] if args else None
    out: list[str] = []

    def collect(h: Any) -> None:
        if get_origin(h) is Literal:
            out.extend(str(a) for a in get_args(h))
        elif get_origin(h) in (list, tuple) or str(get_origin(h)).endswith("Union"):
            for a in get_args(h):
                collect(a)

    collect(hint)
    return tuple(out) or None


class Branch:
    """A conditional edge: ``path(state)`` returns node name(s), Sends, or keys of ``path_map``."""

    def __init__(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: dict[Hashable, str] | list[str] | None = None,
    ) -> None:
        self.source = source
        self.path = path
        self.call = adapt(path)
        self.is_async = is_async_callable(path)
        if isinstance(path_map, list):
            path_map = {name: name for name in path_map}
        elif path_map is not None:
            path_map = dict(path_map)
        self.path_map = path_map
        # a Literal[...] return hint only declares destinations (checked at compile time)
        self.declared = literal_destinations(path) if path_map is None else None

    def destinations(self) -> list[str] | None:
        if self.path_map is not None:
            return list(self.path_map.values())
        return list(self.declared) if self.declared else None

    def writes(self, result: Any, nodes: Any) -> list[tuple[str, Any]]:
        """Channel writes for the routing function's ``result``."""
        items = result if isinstance(result, (list, tuple)) else [result]
        out: list[tuple[str, Any]] = []
        for item in items:
            if isinstance(item, Send):
                if item.node not in nodes:
                    raise InvalidUpdateError(f"Send to unknown node {item.node!r}")
                out.append((TASKS, item))
                continue
            dest = item
            if self.path_map is not None:
                if item in self.path_map:
                    dest = self.path_map[item]
                elif item not in self.path_map.values() and item != END:
                    raise InvalidUpdateError(
                        f"Routing function of {self.source!r} returned {item!r}, which is "
                        f"not in its path map {sorted(map(str, self.path_map))}"
                    )
            if dest is None or dest == END:
                continue
            if dest not in nodes:
                raise InvalidUpdateError(
                    f"Routing function of {self.source!r} returned unknown node {dest!r}"
                )
            out.append((branch_channel(dest), None))
        return out


def check_destination(source: str, dest: str, nodes: Any) -> None:
    if dest != END and dest not in nodes:
        raise InvalidGraphError(
            f"Conditional edge from {source!r} can route to {dest!r}, which is not a node; "
            f"add it with add_node({dest!r}, ...) or fix the path map"
        )
