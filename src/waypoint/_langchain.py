"""Everything waypoint knows about LangChain (``langchain-core``), behind one narrow interface.

waypoint's engine never imports ``langchain_core``: it calls the functions here. They import
it the first time they need it and answer "not available" when it is absent, so plain Python
programs run without it and pay nothing for it. When it is installed waypoint behaves as
LangGraph does with it: message-like values become message objects in ``add_messages``.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

from waypoint.errors import LangChainRequiredError, MessageCoercionError

_UNSET: Any = object()
_LC: Any = _UNSET  # the LangChain pieces waypoint uses (a namespace), or None when absent


def lc() -> SimpleNamespace | None:
    """The LangChain classes and functions waypoint uses, or None without langchain-core.

    Imported once, on first use; tests may set ``_LC = None`` to exercise the plain path.
    """
    global _LC
    if _LC is _UNSET:
        try:
            from langchain_core import messages as m
        except ImportError:
            _LC = None
        else:
            _LC = SimpleNamespace(
                BaseMessage=m.BaseMessage,
                BaseMessageChunk=m.BaseMessageChunk,
                RemoveMessage=m.RemoveMessage,
                convert_to_messages=m.convert_to_messages,
                convert_to_openai_messages=m.convert_to_openai_messages,
                chunk_to_message=m.message_chunk_to_message,
            )
    return _LC


def loaded() -> bool:
    """Whether LangChain is importable *and* already imported by the program: objects of its
    classes can only exist then, so checks for them cost nothing otherwise."""
    return "langchain_core" in sys.modules and lc() is not None


def require(feature: str) -> SimpleNamespace:
    """The LangChain pieces, or a LangChainRequiredError naming ``feature``."""
    ns = lc()
    if ns is None:
        raise LangChainRequiredError(
            f"{feature} needs langchain-core: pip install langchain-core"
        )
    return ns


# --- messages ------------------------------------------------------------------------------


def message_coercer() -> Any:
    """A function turning one message-like value into a LangChain message (as LangGraph's
    ``add_messages`` does), or None when LangChain is not installed (values stay as given)."""
    ns = lc()
    if ns is None:
        return None
    base, chunk_cls, remove_cls = ns.BaseMessage, ns.BaseMessageChunk, ns.RemoveMessage
    convert, to_message = ns.convert_to_messages, ns.chunk_to_message

    def coerce(m: Any) -> Any:
        if isinstance(m, base):
            return to_message(m) if isinstance(m, chunk_cls) else m
        if type(m) is dict and m.get("type") == "remove" and "role" not in m:
            return remove_cls(id=m.get("id"))
        if not isinstance(m, (str, dict, tuple, list)):
            if getattr(m, "type", None) == "remove":  # waypoint's own RemoveMessage
                return remove_cls(id=m.id)
        try:
            return convert([m])[0]
        except (NotImplementedError, ValueError, TypeError, KeyError) as exc:
            raise MessageCoercionError(
                f"Cannot turn {m!r} into a message: write a LangChain message, a dict with "
                f"'role' (or 'type') and 'content', a (role, content) tuple or a string ({exc})"
            ) from None

    return coerce


def format_openai(messages: list[Any]) -> list[Any]:
    """Messages with their content in OpenAI's format (``add_messages(format=
    "langchain-openai")``). Unlike LangGraph, ids are kept so later updates still replace
    the right message."""
    ns = require('add_messages(format="langchain-openai")')
    out = []
    for m in messages:
        new = ns.convert_to_messages(ns.convert_to_openai_messages([m]))[0]
        if getattr(m, "id", None) is not None:
            new.id = m.id
        out.append(new)
    return out
