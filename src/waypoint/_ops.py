"""Operations written once, driven by a sync or an async executor (the psycopg pattern).

A backend's core writes each public method as a generator *operation* that yields requests
(run this statement, fetch these rows, embed these texts, ...) and receives each request's
result, doing no I/O itself. ``Emit(value)`` is the one request every driver understands: it
hands ``value`` to the caller, so listings stream instead of buffering. The operation's return
value is the method's result.

Each backend supplies only ``execute(request) -> result`` for its sync client and
``aexecute(request) -> awaitable result`` for its async client; the drivers below own the loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

Op = Generator[Any, Any, T]


class Emit:
    """Request: hand ``value`` to the caller of a streaming operation."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def run(op: Op[T], execute: Callable[[Any], Any]) -> T:
    """Drive ``op`` to completion with a sync executor; returns the operation's result."""
    try:
        request = next(op)
        while True:
            if isinstance(request, Emit):
                raise TypeError("run() got an Emit request: use stream() for streaming ops")
            try:
                result = execute(request)
            except BaseException as exc:  # let the op clean up or translate
                request = op.throw(exc)
                continue
            request = op.send(result)
    except StopIteration as stop:
        return stop.value


def stream(op: Op[Any], execute: Callable[[Any], Any]) -> Iterator[Any]:
    """Drive a streaming ``op``: yields every ``Emit``-ed value as it comes."""
    try:
        request = next(op)
        while True:
            if isinstance(request, Emit):
                yield request.value
                request = op.send(None)
                continue
            try:
                result = execute(request)
            except BaseException as exc:
                request = op.throw(exc)
                continue
            request = op.send(result)
    except StopIteration:
        return
    finally:
        op.close()


async def arun(op: Op[T], aexecute: Callable[[Any], Awaitable[Any]]) -> T:
    """Drive ``op`` to completion with an async executor."""
    try:
        request = next(op)
        while True:
            if isinstance(request, Emit):
                raise TypeError("arun() got an Emit request: use astream() for streaming ops")
            try:
                result = await aexecute(request)
            except BaseException as exc:
                request = op.throw(exc)
                continue
            request = op.send(result)
    except StopIteration as stop:
        return stop.value


async def astream(op: Op[Any], aexecute: Callable[[Any], Awaitable[Any]]) -> AsyncIterator[Any]:
    """Drive a streaming ``op`` with an async executor, yielding every ``Emit``-ed value."""
    try:
        request = next(op)
        while True:
            if isinstance(request, Emit):
                yield request.value
                request = op.send(None)
                continue
            try:
                result = await aexecute(request)
            except BaseException as exc:
                request = op.throw(exc)
                continue
            request = op.send(result)
    except StopIteration:
        return
    finally:
        op.close()
