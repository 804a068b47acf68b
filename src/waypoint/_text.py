"""Which strings every backend can hold, checked once for ids, keys, namespaces and filters.

Two kinds of character break storage somewhere: NUL (``"\\x00"``), which PostgreSQL text and
jsonb cannot hold and which SQLite's JSON functions drop, and lone surrogates (``"\\ud800"``),
which have no UTF-8 form, so no database driver can send them. Rather than answer differently
per backend (PostgreSQL failing, SQLite matching a different value, memory working), thread
ids, checkpoint namespaces and ids, store namespace labels and keys, and filter keys and values
refuse both on every backend, with an error naming the value and the position.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored by every backend, or None when it can."""
    if "\x00" in text:
        return f"contains a NUL character (position {text.index(chr(0))})"
    return _surrogate_problem(text)


def _surrogate_problem(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains a lone surrogate {text[exc.start]!r} (position {exc.start}), which has no UTF-8 form"
    return None


def check_text(text: str, what: str, error: type[Exception]) -> str:
    """``text`` unchanged, or ``error`` saying which ``what`` holds which bad character."""
    problem = text_problem(text)
    if problem is not None:
        raise error(f"{what} {text!r} {problem}; databases cannot store it, so it is refused everywhere")
    return text


def find_bad_text(value: Any, *, nul: bool = True) -> tuple[str, str] | None:
    """The first string (or dict key) in a JSON-like ``value`` that breaks the rule above, with
    the problem; ``nul=False`` only looks for lone surrogates."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str:
            if item.isascii() and "\x00" not in item:
                continue
            problem = text_problem(item) if nul else _surrogate_problem(item)
            if problem is not None:
                return item, problem
        elif kind is dict or (kind is not list and isinstance(item, Mapping)):
            push(item.keys())
            push(item.values())
        elif kind is list or kind is tuple:
            push(item)
        elif isinstance(item, str):
            found = find_bad_text(str(item), nul=nul)
            if found is not None:
                return found
        elif isinstance(item, (list, tuple)):
            push(item)
    return None

def value_text_error(text: str, where: str) -> Exception | None:
    """The SerializationError for a stored value holding ``text`` (checked by each store while
    it encodes or copies the value, where a non-ASCII string is already at hand), or None."""
    problem = _surrogate_problem(text)
    if problem is None:
        return None
    from waypoint.errors import SerializationError

    shown = text if len(text) <= 40 else text[:40] + "..."
    return SerializationError(
        f"{where}: the string {shown!r} {problem}; no database can store it (replace or drop "
        "the character)"
    )


__all__ = ["check_text", "find_bad_text", "text_problem", "value_text_error"]
