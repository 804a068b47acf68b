"""Checking and preparing the nodes and channels of a ``Pregel`` made with the low-level API
(``Pregel(nodes=..., channels=..., input_channels=..., output_channels=...)``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from waypoint.channels.base import BaseChannel
from waypoint.channels.topic import Topic
from waypoint.errors import InvalidGraphError
from waypoint.pregel.builder import NodeBuilder
from waypoint.pregel.constants import TASKS
from waypoint.types import RetryPolicy, Send


def _names(chans: str | Sequence[str] | None, what: str) -> tuple[str, ...]:
    if chans is None:
        raise InvalidGraphError(f"Pregel(...) needs {what}= (a channel name or a list of them)")
    return (chans,) if isinstance(chans, str) else tuple(chans)


def setup(
    graph: Any,
    nodes: dict[str, Any],
    channels: dict[str, BaseChannel],
    input_channels: Any,
    output_channels: Any,
    stream_channels: Any,
    retry_policy: Any,
    validate: bool,
) -> tuple[dict[str, Any], dict[str, BaseChannel], tuple[str, ...], tuple[str, ...]]:
    """(nodes, channels, output keys, state keys) of a low-level graph; sets its input,
    output and stream channel attributes."""
    channels = dict(channels)
    if TASKS in channels and not isinstance(channels[TASKS], Topic):
        raise InvalidGraphError(f"Channel {TASKS!r} is reserved; give your channel another name")
    for key, ch in channels.items():
        if not isinstance(ch, BaseChannel):
            raise InvalidGraphError(f"Channel {key!r} must be a channel (e.g. LastValue(int)), got {ch!r}")
        ch.key = key
    channels[TASKS] = Topic(Send, accumulate=False, key=TASKS)
    inputs = _names(input_channels, "input_channels")
    outputs = _names(output_channels, "output_channels")
    streams = (
        tuple(k for k in channels if k != TASKS) if stream_channels is None
        else _names(stream_channels, "stream_channels")
    )
    if validate:
        known = set(channels)
        for what, names in (("input", inputs), ("output", outputs), ("stream", streams)):
            for ch in names:
                if ch not in known:
                    raise InvalidGraphError(f"{what}_channels names unknown channel {ch!r}; channels: {sorted(known - {TASKS})}")
        for name, node in nodes.items():
            if isinstance(node, NodeBuilder):
                _check_node(name, node, known)
    built: dict[str, Any] = {}
    default_retry = (retry_policy,) if isinstance(retry_policy, RetryPolicy) else tuple(retry_policy or ())
    for name, node in nodes.items():
        if isinstance(node, NodeBuilder):
            node = node.build(name)
        elif not node.name:
            node.name = name
        if not node.retry_policy and default_retry:
            node.retry_policy = default_retry
        built[name] = node
    graph.input_channels = input_channels
    graph.output_single = output_channels if isinstance(output_channels, str) else None
    graph.stream_keys = streams
    return built, channels, outputs, streams


def _check_node(name: str, node: NodeBuilder, known: set[str]) -> None:
    reads = [node._channels] if isinstance(node._channels, str) else list(node._channels)
    for ch in (*reads, *node._triggers):
        if ch not in known:
            raise InvalidGraphError(
                f"Node {name!r} reads channel {ch!r}, which is not one of the graph's channels "
                f"{sorted(known - {TASKS})}"
            )
    if not node._triggers:
        raise InvalidGraphError(f"Node {name!r} subscribes to no channel: it would never run")
    for w in node._writes:
        if w.channel not in known or w.channel == TASKS:
            raise InvalidGraphError(
                f"Node {name!r} writes to channel {w.channel!r}, which is not one of the graph's "
                f"channels {sorted(known - {TASKS})}"
            )
