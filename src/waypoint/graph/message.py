"""``add_messages``: the chat-history reducer, and ``MessagesState``.

With ``langchain-core`` installed, every message-like value (dict with role/type and content,
``(role, content)`` tuple, string, message chunk) becomes a LangChain message object, as in
LangGraph. Without it, messages stay as given: dicts (``{"role": ..., "content": ..., "id":
...}``), objects with an ``id`` attribute, strings (a user message, stored as a dict) or
``(role, content)`` tuples (stored as dicts).
A message whose id is already present replaces it in place; ``RemoveMessage(id=...)`` (or
``{"type": "remove", "id": ...}``) deletes it; ``RemoveMessage(id=REMOVE_ALL_MESSAGES)``
clears the history. Messages without an id get a uuid4 string.
"""

from __future__ import annotations

import operator
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from waypoint import _langchain
from waypoint._langchain import format_openai, message_coercer
from waypoint.channels.binop import register_log_reducer

REMOVE_ALL_MESSAGES = "__remove_all__"

Messages = Any
"""What ``add_messages`` accepts on either side: a list of message-like values or one (a
LangChain message, a dict with role/type and content, a ``(role, content)`` tuple, a string)."""

__all__ = [
    "REMOVE_ALL_MESSAGES",
    "MessageGraph",
    "MessagesState",
    "RemoveMessage",
    "add_messages",
    "push_message",
]


@dataclass
class RemoveMessage:
    """Marks the message with ``id`` for deletion (``REMOVE_ALL_MESSAGES``: all of them)."""

    id: str
    content: str = ""
    type: str = field(default="remove", init=False)


def _id_of(m: Any) -> Any:
    return m.get("id") if type(m) is dict else getattr(m, "id", None)


def _is_remove(m: Any) -> bool:
    if type(m) is dict:
        return m.get("type") == "remove"
    return isinstance(m, RemoveMessage) or getattr(m, "type", None) == "remove"


def _coerce(m: Any) -> Any:
    if isinstance(m, str):
        return {"role": "user", "content": m}
    if isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str):
        return {"role": m[0], "content": m[1]}
    return m


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) and not _is_pair(v) else [v]


def _is_pair(v: Any) -> bool:
    return isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], str)


def _with_id(m: Any) -> tuple[Any, bool]:
    """(message with an id, whether it already had one)."""
    if _id_of(m) is not None:
        return m, True
    new_id = str(uuid.uuid4())
    if type(m) is dict:
        return {**m, "id": new_id}, False
    try:
        m.id = new_id
    except AttributeError:
        pass
    return m, False


_REMOVED = object()


def _coerce_left(left: Any, coerce: Any) -> Any:
    """``left`` as LangChain messages with ids; the very list when nothing had to change."""
    items = left if type(left) is list else _as_list(left)
    out = [coerce(m) for m in items]
    for m in out:
        if m.id is None:
            m.id = str(uuid.uuid4())
    if type(left) is list and all(map(operator.is_, out, left)):
        return left
    return out


def merge_messages(left: Any, right: Any) -> tuple[list[Any], int]:
    """``add_messages`` that also reports how many leading items of the result are the very
    items of ``left`` (the rest changed or is new)."""
    coerce = message_coercer() or _coerce
    if coerce is not _coerce:
        left = _coerce_left(left, coerce)
    old = left if type(left) is list else _as_list(left)
    incoming = []
    lookup = False
    for raw in _as_list(right):
        m, had_id = _with_id(coerce(raw))
        if _is_remove(m) and _id_of(m) == REMOVE_ALL_MESSAGES:
            incoming = []
            lookup = False
            old = []
            continue
        lookup = lookup or had_id
        incoming.append(m)
    if old is not left:  # a reset or a non-list left: nothing is shared
        prefix_base = 0
    else:
        prefix_base = len(old)
    if not lookup:
        return old + incoming, prefix_base
    index = {}
    for i, m in enumerate(old):
        mid = _id_of(m)
        if mid is not None:
            index[mid] = i
    merged = list(old)
    prefix = prefix_base
    removed = False
    for m in incoming:
        mid = _id_of(m)
        i = index.get(mid)
        if i is None:
            if _is_remove(m):
                raise ValueError(
                    f"RemoveMessage(id={mid!r}): no message with that id in the state"
                )
            index[mid] = len(merged)
            merged.append(m)
            continue
        if i < prefix:
            prefix = i
        if _is_remove(m):
            merged[i] = _REMOVED
            removed = True
        else:
            merged[i] = m
    if removed:
        merged = [m for m in merged if m is not _REMOVED]
    return merged, prefix


_FORMATS = ("langchain-openai",)


def add_messages(left: Any = None, right: Any = None, *, format: str | None = None) -> Any:
    """Merge two lists of messages, replacing messages that share an id and deleting
    ``RemoveMessage`` targets; returns a new list (``left`` keeps its items).

    ``add_messages(format="langchain-openai")`` (no messages) returns the reducer that also
    puts each new or changed message's content in OpenAI's format (needs langchain-core).
    """
    if format is not None:
        if format not in _FORMATS:
            raise ValueError(f"add_messages(format={format!r}): expected one of {_FORMATS} or None")
        format_openai([])  # LangChainRequiredError now, not at the first write
        if left is None and right is None:
            return add_messages_openai
        return add_messages_openai(left if left is not None else [], right)
    return merge_messages(left if left is not None else [], right)[0]


def merge_messages_openai(left: Any, right: Any) -> tuple[list[Any], int]:
    """``merge_messages`` that formats the new or changed tail (the shared prefix came out of
    this reducer already formatted)."""
    merged, prefix = merge_messages(left, right)
    return merged[:prefix] + format_openai(merged[prefix:]), prefix


def add_messages_openai(left: Any, right: Any) -> list[Any]:
    """The reducer ``add_messages(format="langchain-openai")`` returns."""
    return merge_messages_openai(left if left is not None else [], right)[0]


MESSAGE_REDUCERS = frozenset({add_messages, add_messages_openai})
register_log_reducer(add_messages, merge_messages)
register_log_reducer(add_messages_openai, merge_messages_openai)


class MessagesState(TypedDict):
    """A state with one ``messages`` key reduced by ``add_messages``."""

    messages: Annotated[list[Any], add_messages]


def push_message(message: Any, *, state_key: str | None = "messages") -> Any:
    """Send ``message`` to the ``messages`` stream now, from inside a node, and (unless
    ``state_key`` is None) write it to that state key as the node's update would.

    The message must have an id (it is how the stream and the state recognise it later); it is
    coerced as ``add_messages`` coerces input (a LangChain message with ``langchain-core``
    installed, else kept as given). Returns the message as sent.
    """
    from waypoint.config import var_task
    from waypoint.errors import InvalidUpdateError, MessageCoercionError

    task = var_task.get()
    if task is None:
        raise RuntimeError("push_message() can only be called from inside a running graph node")
    coerce = message_coercer()
    msg = coerce(message) if coerce is not None else _coerce(message)
    if _id_of(msg) is None:
        raise MessageCoercionError(
            f"push_message() needs a message with an id, got {message!r}: set id=... "
            "(the stream and the state use it to recognise the message later)"
        )
    loop = task.loop
    if state_key is not None and state_key not in loop.graph.channels:
        raise InvalidUpdateError(
            f"push_message(state_key={state_key!r}): the graph has no such state key; "
            f"use one of {sorted(k for k in loop.graph.channels if not k.startswith('branch:'))} "
            "or state_key=None to only stream the message"
        )
    if "messages" in loop.modes and loop.sink is not None:
        meta = task.config.get("metadata") or {}
        if not _langchain.push_to_stream(task.config, msg, meta):
            loop.sink((loop.ns_tuple, "messages", (msg, meta)))
            loop.pushed_message_ids.add(_id_of(msg))
    if state_key is not None:
        task.writes.append((state_key, msg))
    return msg


def __getattr__(name: str) -> Any:
    if name == "MessageGraph":  # built lazily: it needs StateGraph, which imports this module
        from waypoint.graph.state import MessageGraph

        return MessageGraph
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
