"""Between LangGraph's and waypoint's objects: the few runtime types a checkpoint holds.

LangGraph's runtime stores its own ``Send`` (pending pushes in the ``__pregel_tasks`` channel)
and ``Interrupt`` (the ``__interrupt__`` write) in checkpoints. Waypoint stores its own twins of
these types, so a thread written under LangGraph's runtime reads back under waypoint's (and the
other way round) without either program importing the other's classes. Everything else (user
state, LangChain messages, pydantic models) passes through untouched: both runtimes hand the
same objects to the same serializer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple as LgCheckpointTuple
from langgraph.types import Interrupt as LgInterrupt
from langgraph.types import Send as LgSend

from waypoint.checkpoint.base import CheckpointTuple
from waypoint.errors import SerializationError
from waypoint.types import Interrupt as WpInterrupt
from waypoint.types import Send as WpSend

_WP_INTERRUPT_FIELDS = set(getattr(WpInterrupt, "__dataclass_fields__", ()))
_WP_SEND_FIELDS = set(getattr(WpSend, "__dataclass_fields__", ()))


def _send_to_wp(send: LgSend) -> WpSend:
    timeout = getattr(send, "timeout", None)
    if timeout is None:
        return WpSend(send.node, send.arg)
    if "timeout" in _WP_SEND_FIELDS:
        return WpSend(send.node, send.arg, timeout=timeout)  # type: ignore[call-arg]
    raise SerializationError(
        f"Send(node={send.node!r}) carries timeout={timeout!r}, which waypoint's stored Send "
        "cannot hold: drop the per-Send timeout or set the node's timeout instead"
    )


def _interrupt_to_wp(interrupt: LgInterrupt) -> WpInterrupt:
    schema = getattr(interrupt, "response_schema", None)
    if schema is not None and "response_schema" in _WP_INTERRUPT_FIELDS:
        return WpInterrupt(interrupt.value, interrupt.id, response_schema=schema)  # type: ignore[call-arg]
    return WpInterrupt(interrupt.value, interrupt.id)


def _send_to_lg(send: WpSend) -> LgSend:
    timeout = getattr(send, "timeout", None)
    return LgSend(send.node, send.arg, timeout=timeout) if timeout is not None else LgSend(send.node, send.arg)


def _interrupt_to_lg(interrupt: WpInterrupt) -> LgInterrupt:
    schema = getattr(interrupt, "response_schema", None)
    return LgInterrupt(interrupt.value, interrupt.id, response_schema=schema)


_TO_WP = {LgSend: _send_to_wp, LgInterrupt: _interrupt_to_wp}
_TO_LG = {WpSend: _send_to_lg, WpInterrupt: _interrupt_to_lg}


def _convert(value: Any, table: dict[type, Any]) -> Any:
    """``value`` with table types replaced, looking one container level deep; the very same
    object when nothing needs replacing (the append tracker relies on identity)."""
    fn = table.get(type(value))
    if fn is not None:
        return fn(value)
    t = type(value)
    if t is list or t is tuple:
        if any(type(v) in table for v in value):
            return t(table[type(v)](v) if type(v) in table else v for v in value)
    return value


def to_waypoint(value: Any) -> Any:
    """A value LangGraph's runtime handed over, as waypoint stores it."""
    return _convert(value, _TO_WP)


def to_langgraph(value: Any) -> Any:
    """A stored value, as LangGraph's runtime expects it."""
    return _convert(value, _TO_LG)


def writes_to_waypoint(writes: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(channel, to_waypoint(value)) for channel, value in writes]


def values_to_waypoint(values: dict[str, Any]) -> dict[str, Any]:
    return {k: to_waypoint(v) for k, v in values.items()}


def tuple_to_langgraph(t: CheckpointTuple | None) -> LgCheckpointTuple | None:
    """Waypoint's checkpoint tuple as LangGraph's, with LangGraph's runtime types inside."""
    if t is None:
        return None
    checkpoint = dict(t.checkpoint)
    checkpoint.pop("channel_logs", None)
    checkpoint["channel_values"] = {k: to_langgraph(v) for k, v in checkpoint["channel_values"].items()}
    writes = None
    if t.pending_writes is not None:
        writes = [(task, channel, to_langgraph(value)) for task, channel, value in t.pending_writes]
    return LgCheckpointTuple(t.config, checkpoint, t.metadata, t.parent_config, writes)  # type: ignore[arg-type]


def tuples_to_langgraph(items: Iterable[CheckpointTuple]) -> Iterable[LgCheckpointTuple]:
    for t in items:
        yield tuple_to_langgraph(t)  # type: ignore[misc]
