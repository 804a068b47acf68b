"""Replacing a thread without a moment where it is lost: write the new one, then swap.

``import --force`` and ``migrate --force`` write the incoming thread under a temporary thread id
(:func:`temp_id`), read it back, and only then :func:`swap` it in: the existing thread is
deleted and the new one copied to its id, then the temporary id is deleted. A failure before
the swap leaves the existing thread untouched and only the temporary one to remove.

How atomic the swap itself is depends on the backend:

- SQLite and PostgreSQL: delete, copy and cleanup run as one operation, one transaction.
- MongoDB: delete and copy run in one multi-document transaction when the deployment has them
  (a replica set or mongos); on a standalone server they run as ordered writes, and if the copy
  fails midway the new thread is still complete under the temporary id, which the error names.
- In-memory saver: under the saver's lock, so no reader sees a half-swapped thread.
- Any other saver: ``delete_thread`` then ``copy_thread``, as the standalone MongoDB case.
"""

from __future__ import annotations

import uuid
from typing import Any

from waypoint._ops import Op
from waypoint.checkpoint.base import BaseCheckpointSaver
from waypoint.cli._urls import CliError

PREFIX = "__waypoint_import__"


def temp_id(thread_id: str) -> str:
    """A fresh thread id to build a replacement of ``thread_id`` under."""
    return f"{PREFIX}:{uuid.uuid4().hex}:{thread_id}"


def _sql_swap(dialect: Any, tmp: str, thread_id: str, serde: Any) -> Op[None]:
    from waypoint.checkpoint._sql import ops

    yield from ops.delete_thread(dialect, thread_id)
    yield from ops.copy_thread(dialect, tmp, thread_id, serde)  # reseals encrypted values
    yield from ops.delete_thread(dialect, tmp)


def _mongo_swap(ctx: Any, tmp: str, thread_id: str) -> Op[None]:
    from waypoint.checkpoint.mongodb import _core, _maintenance

    def body() -> Op[None]:
        yield from _maintenance.delete_thread(ctx, thread_id)
        yield from _maintenance.copy_thread(ctx, tmp, thread_id)

    yield from _core.atomically(ctx, body)
    yield from _maintenance.delete_thread(ctx, tmp)


def backend_kind(saver: BaseCheckpointSaver) -> str:
    """``sql``, ``mongodb``, ``memory`` or ``other``: which backend-specific path applies."""
    from waypoint.checkpoint._sql.saver import SqlSaver
    from waypoint.checkpoint.memory import InMemorySaver

    if isinstance(saver, SqlSaver):
        return "sql"
    if isinstance(saver, InMemorySaver):
        return "memory"
    try:
        from waypoint.checkpoint.mongodb import MongoDBSaver
    except ImportError:
        return "other"
    return "mongodb" if isinstance(saver, MongoDBSaver) else "other"


def swap(saver: BaseCheckpointSaver, tmp: str, thread_id: str) -> None:
    """Make the thread stored under ``tmp`` the thread ``thread_id`` (replacing what is
    there) and remove ``tmp``; see the module docstring for each backend's guarantee."""
    kind = backend_kind(saver)
    try:
        if kind == "sql":
            from waypoint.checkpoint._sql.requests import WRITE

            saver._call(_sql_swap(saver.dialect, tmp, thread_id, saver.serde), WRITE, "replace_thread")  # type: ignore[attr-defined]
        elif kind == "mongodb":
            saver._run(_mongo_swap(saver._ctx, tmp, thread_id))  # type: ignore[attr-defined]
        elif kind == "memory":
            with saver._lock:  # type: ignore[attr-defined]
                _plain_swap(saver, tmp, thread_id)
        else:
            _plain_swap(saver, tmp, thread_id)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
        raise CliError(
            f"replacing thread {thread_id!r} failed: {reason}; the complete new thread is kept "
            f"as thread {tmp!r} (copy it with copy_thread, or delete it)"
        ) from None


def _plain_swap(saver: BaseCheckpointSaver, tmp: str, thread_id: str) -> None:
    saver.delete_thread(thread_id)
    saver.copy_thread(tmp, thread_id)
    saver.delete_thread(tmp)


def discard(saver: BaseCheckpointSaver, thread_id: str) -> None:
    """Best-effort removal of a partial thread (the error being reported matters more)."""
    try:
        saver.delete_thread(thread_id)
    except Exception:
        pass


__all__ = ["PREFIX", "backend_kind", "discard", "swap", "temp_id"]
