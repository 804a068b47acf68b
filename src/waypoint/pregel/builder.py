"""The low-level Pregel API: ``NodeBuilder`` and what ``Pregel(nodes=..., channels=...,
input_channels=..., output_channels=...)`` makes of its nodes.

A node built here subscribes to channels (it runs when one of them changes), reads some
channels as its input (one channel's value, or a dict of several), runs one function or a
chain of them (``do``), and writes its output (or a constant, or a mapped value) to channels
(``write_to``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, NamedTuple

from waypoint.errors import InvalidGraphError

__all__ = ["ChannelWriteEntry", "NodeBuilder", "PASSTHROUGH", "SKIP_WRITE"]


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


PASSTHROUGH: Any = _Marker("PASSTHROUGH")  # write the node's output itself
SKIP_WRITE: Any = _Marker("SKIP_WRITE")  # a mapper returning this writes nothing


class ChannelWriteEntry(NamedTuple):
    """One write of a node: to ``channel``, the node's output (``value=PASSTHROUGH``) or a
    fixed ``value``, optionally through ``mapper``; ``skip_none`` drops a None value."""

    channel: str
    value: Any = PASSTHROUGH
    skip_none: bool = False
    mapper: Callable[[Any], Any] | None = None


class NodeBuilder:
    """Builds a node of a low-level ``Pregel`` graph, e.g.
    ``NodeBuilder().subscribe_only("a").do(fn).write_to("b")``."""

    __slots__ = ("_channels", "_triggers", "_tags", "_metadata", "_writes", "_steps",
                 "_retry_policy", "_cache_policy", "_timeout")

    def __init__(self) -> None:
        self._channels: str | list[str] = []
        self._triggers: list[str] = []
        self._tags: list[str] = []
        self._metadata: dict[str, Any] = {}
        self._writes: list[ChannelWriteEntry] = []
        self._steps: list[Any] = []
        self._retry_policy: list[Any] = []
        self._cache_policy: Any = None
        self._timeout: Any = None

    def subscribe_only(self, channel: str) -> NodeBuilder:
        """Run when ``channel`` changes, with that channel's value as the input."""
        if self._channels:
            raise InvalidGraphError(
                "subscribe_only() cannot follow subscribe_to()/read_from(): a node reads either "
                "one channel's value or a dict of several"
            )
        self._channels = channel
        self._triggers.append(channel)
        return self

    def subscribe_to(self, *channels: str, read: bool = True) -> NodeBuilder:
        """Run when any of ``channels`` changes; with ``read`` their values are in the input
        dict."""
        if isinstance(self._channels, str):
            raise InvalidGraphError("subscribe_to() cannot follow subscribe_only()")
        if read:
            self._channels.extend(channels)
        self._triggers.extend(channels)
        return self

    def read_from(self, *channels: str) -> NodeBuilder:
        """Add ``channels`` to the input dict without running when they change."""
        if isinstance(self._channels, str):
            raise InvalidGraphError("read_from() cannot follow subscribe_only()")
        self._channels.extend(channels)
        return self

    def do(self, node: Any) -> NodeBuilder:
        """Run ``node`` (a function, async function, Runnable or compiled graph) on the input;
        several ``do`` calls chain, each receiving the previous one's output."""
        if not callable(node) and not hasattr(node, "invoke"):
            raise InvalidGraphError(f"NodeBuilder.do() needs a callable or a Runnable, got {node!r}")
        self._steps.append(node)
        return self

    def write_to(self, *channels: str | ChannelWriteEntry, **kwargs: Any) -> NodeBuilder:
        """Write the output to ``channels``; ``name=callable`` writes ``callable(output)``,
        ``name=value`` writes a constant."""
        for c in channels:
            self._writes.append(ChannelWriteEntry(c) if isinstance(c, str) else c)
        for k, v in kwargs.items():
            self._writes.append(ChannelWriteEntry(k, mapper=v) if callable(v) else ChannelWriteEntry(k, value=v))
        return self

    def meta(self, *tags: str, **metadata: Any) -> NodeBuilder:
        self._tags.extend(tags)
        self._metadata.update(metadata)
        return self

    def add_retry_policies(self, *policies: Any) -> NodeBuilder:
        self._retry_policy.extend(policies)
        return self

    def add_cache_policy(self, policy: Any) -> NodeBuilder:
        self._cache_policy = policy
        return self

    def set_timeout(self, timeout: float | timedelta | Any | None) -> NodeBuilder:
        from waypoint.types import TimeoutPolicy

        self._timeout = TimeoutPolicy.coerce(timeout)
        return self

    def build(self, name: str = "") -> Any:
        """The engine node (``Pregel`` calls this with the node's name)."""
        from waypoint.pregel.node import PregelNode, traced

        func, afunc = _chain(self._steps, name)
        if self._timeout is not None and afunc is None:
            raise InvalidGraphError(
                f"Node {name!r} has a timeout but is sync: timeouts need an async node"
            )
        func, afunc = traced(func, afunc)
        channels, writes = self._channels, tuple(self._writes)
        if isinstance(channels, str):
            key = channels

            def read(values: dict[str, Any]) -> Any:
                return values.get(key)
        else:
            keys = tuple(channels)

            def read(values: dict[str, Any]) -> Any:
                return {k: values[k] for k in keys if k in values}

        def write(task: Any, out: Any) -> None:
            task.writes.extend(assemble(writes, out))

        node = PregelNode(
            name, triggers=self._triggers, func=func, afunc=afunc, read=read, write=write,
            retry_policy=self._retry_policy or None, metadata=self._metadata,
            cache_policy=self._cache_policy, bound=self._steps[0] if self._steps else None,
            timeout=self._timeout,
        )
        return node


def assemble(writes: Sequence[ChannelWriteEntry], out: Any) -> list[tuple[str, Any]]:
    """The (channel, value) writes of one output."""
    result = []
    for w in writes:
        value = out if w.value is PASSTHROUGH else w.value
        if w.mapper is not None:
            value = w.mapper(value)
        if value is SKIP_WRITE or (w.skip_none and value is None):
            continue
        result.append((w.channel, value))
    return result


def _step(fn: Any) -> tuple[Any, Any]:
    """(sync, async) callables ``(input, task) -> output`` for one ``do`` step."""
    from waypoint._langchain import is_runnable, runnable_node
    from waypoint.graph.branch import adapt, is_async_callable
    from waypoint.pregel.main import Pregel

    if isinstance(fn, Pregel):
        return (lambda inp, task: fn.invoke(inp, task.config)), (lambda inp, task: fn.ainvoke(inp, task.config))
    if is_runnable(fn):
        return runnable_node(fn)
    if is_async_callable(fn):
        return None, adapt(fn)
    return adapt(fn), None


def _chain(steps: list[Any], name: str) -> tuple[Any, Any]:
    if not steps:  # no function: the input passes through to the writes
        return (lambda inp, task: inp), None
    parts = [_step(s) for s in steps]
    if len(parts) == 1:
        return parts[0]
    has_async = any(a is not None for _, a in parts)
    sync_ok = all(s is not None for s, _ in parts)

    def func(inp: Any, task: Any) -> Any:
        for s, _ in parts:
            inp = s(inp, task)
        return inp

    async def afunc(inp: Any, task: Any) -> Any:
        for s, a in parts:
            inp = await a(inp, task) if a is not None else await asyncio.to_thread(s, inp, task)
        return inp

    return (func if sync_ok else None), (afunc if has_async else None)
