"""How the inspector shows decoded values: message lists as a chat, everything else as indented
JSON text (escaped by the templates like any text), large values collapsed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from waypoint.cli._render import jsonable
from waypoint.errors import DisallowedTypeError

COLLAPSE_CHARS = 2_000  # longer texts start folded
RECENT_MESSAGES = 40  # a longer chat shows its last messages; the earlier ones start folded


def pretty(value: Any) -> str:
    """Indented JSON of ``value`` (dataclasses and models as objects, anything else as repr)."""
    try:
        return json.dumps(jsonable(value), indent=2, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        return repr(value)


def _is_message(m: Any) -> bool:
    if isinstance(m, Mapping):
        return "content" in m and ("role" in m or "type" in m)
    return isinstance(getattr(m, "type", None), str) and hasattr(m, "content")


def is_chat(value: Any) -> bool:
    """A non-empty list of LangChain messages or message dicts."""
    return isinstance(value, list) and bool(value) and all(_is_message(m) for m in value)


def _get(m: Any, key: str, default: Any = None) -> Any:
    return m.get(key, default) if isinstance(m, Mapping) else getattr(m, key, default)


def message(m: Any) -> dict[str, Any]:
    """One message as the chat template shows it: role, text, tool calls, tool result."""
    role = str(_get(m, "role") or _get(m, "type") or "message")
    role = {"human": "user", "ai": "assistant"}.get(role, role)
    content = _get(m, "content", "")
    calls = []
    for c in _get(m, "tool_calls") or ():
        calls.append({"name": _get(c, "name", "?"), "id": _get(c, "id"), "args": pretty(_get(c, "args", {}))})
    return {
        "role": role,
        "text": content if isinstance(content, str) else pretty(content),
        "name": _get(m, "name"),
        "id": _get(m, "id"),
        "tool_calls": calls,
        "tool_call_id": _get(m, "tool_call_id"),
        "status": _get(m, "status"),
    }


def channel(name: str, value: Any) -> dict[str, Any]:
    """A channel's value ready for the checkpoint template."""
    if is_chat(value):
        msgs = [message(m) for m in value]
        split = max(0, len(msgs) - RECENT_MESSAGES)
        return {"name": name, "kind": "chat", "count": len(msgs), "earlier": msgs[:split], "recent": msgs[split:]}
    text = pretty(value)
    return {"name": name, "kind": "json", "text": text, "chars": len(text), "collapsed": len(text) > COLLAPSE_CHARS}


def unreadable(exc: BaseException) -> dict[str, Any]:
    """What to show for a checkpoint that cannot be decoded here (never imports anything)."""
    if isinstance(exc, DisallowedTypeError):
        if exc.module == "__main__":
            hint = "start with --main PROGRAM.py (the program that wrote it)"
        else:
            hint = f"start with -I {exc.module}"
        return {"title": f"unknown type {exc.type_name}, {hint}", "detail": str(exc)}
    return {"title": f"{type(exc).__name__}", "detail": str(exc)}


__all__ = ["channel", "is_chat", "message", "pretty", "unreadable"]
