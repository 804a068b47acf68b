"""Read-only savers over a database written by LangGraph's own SQLite or PostgreSQL saver.

``LangGraphSqliteReader("old.db")`` / ``LangGraphPostgresReader(conn)`` read LangGraph's tables
(``checkpoints``, ``writes`` / ``checkpoint_blobs``, ``checkpoint_writes``) and decode every value
with waypoint's serializer, which reads LangGraph's msgpack format under its own allow-list
(see ``serde._lgformat``). They serve ``get_tuple`` and ``list`` so ``waypoint migrate --from
langgraph+sqlite:///old.db`` and ``waypoint threads/history/show/diff`` work on such a database;
every write method refuses with ``ReadOnlyDatabaseError``. Nothing here imports ``langgraph``.
"""

from __future__ import annotations

import json
import sqlite3
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from waypoint.checkpoint.base import (
    BaseCheckpointSaver,
    CheckpointTuple,
    get_checkpoint_id,
    make_config,
    metadata_matches,
)
from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.errors import CorruptCheckpointError, StorageError


class ReadOnlyDatabaseError(StorageError):
    """A LangGraph database opened for reading was asked to write."""


class _Reader(BaseCheckpointSaver):
    """``get_tuple``/``list`` over LangGraph's rows; the backends supply the queries."""

    what = "LangGraph database"

    mark: str  # the driver's parameter placeholder

    @abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]: ...

    @abstractmethod
    def _has_checkpoints(self) -> bool:
        return self._fetch("SELECT to_regclass('checkpoints')", ())[0][0] is not None

    def _body(self, type_: str, body: Any) -> tuple[dict[str, Any], Any]: ...

    @abstractmethod
    def _blobs(self, thread_id: str, ns: str, checkpoint: dict[str, Any], extra: Any) -> dict[str, Any]: ...

    @abstractmethod
    def _writes(self, thread_id: str, ns: str, cid: str) -> list[Sequence[Any]]: ...

    @abstractmethod
    def _has_checkpoints(self) -> bool:
        """Whether LangGraph's ``checkpoints`` table exists (a database may hold only a store)."""

    def _checkpoint_rows(self, thread_id: str | None, ns: str | None, checkpoint_id: str | None,
                         before: str | None, limit: int | None) -> list[Sequence[Any]]:
        if not self._has_checkpoints():
            return []
        where, params = [], []
        for col, value in (("thread_id", thread_id), ("checkpoint_ns", ns), ("checkpoint_id", checkpoint_id)):
            if value is not None:
                where.append(f"{col} = {self.mark}")
                params.append(value)
        if before is not None:
            where.append(f"checkpoint_id < {self.mark}")
            params.append(before)
        sql = (f"SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, "
               f"metadata FROM checkpoints{' WHERE ' + ' AND '.join(where) if where else ''} "
               "ORDER BY thread_id, checkpoint_ns, checkpoint_id DESC")
        if checkpoint_id is None and thread_id is not None and ns is not None:
            sql = sql.replace("ORDER BY thread_id, checkpoint_ns, checkpoint_id DESC", "ORDER BY checkpoint_id DESC")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._fetch(sql, params)

    def _decode(self, row: Sequence[Any]) -> CheckpointTuple:
        thread_id, ns, cid, parent, type_, body, meta = row
        try:
            checkpoint, extra = self._body(type_, body)
            values = dict(checkpoint.get("channel_values") or {})
            values.update(self._blobs(thread_id, ns, checkpoint, extra))
            checkpoint["channel_values"] = values
            metadata = self._metadata(meta)
            writes = [
                (task, channel, self.serde.loads_typed((wtype, bytes(value or b""))))
                for task, channel, wtype, value in self._writes(thread_id, ns, cid)
            ]
        except CorruptCheckpointError:
            raise
        except Exception as exc:
            raise CorruptCheckpointError(
                f"cannot decode LangGraph checkpoint: {type(exc).__name__}: {exc}",
                thread_id=thread_id, checkpoint_ns=ns, checkpoint_id=cid,
            ) from exc
        checkpoint.setdefault("updated_channels", None)
        return CheckpointTuple(
            make_config(thread_id, ns, cid), checkpoint, metadata,  # type: ignore[arg-type]
            make_config(thread_id, ns, parent) if parent else None, writes,
        )

    def _metadata(self, meta: Any) -> dict[str, Any]:
        if meta is None:
            return {}
        if isinstance(meta, (bytes, bytearray, memoryview)):
            meta = bytes(meta).decode()
        return json.loads(meta) if isinstance(meta, str) else dict(meta)

    # --- the read face ------------------------------------------------------------------------

    def get_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        conf = config.get("configurable") or {}
        rows = self._checkpoint_rows(str(conf["thread_id"]), str(conf.get("checkpoint_ns") or ""),
                                     get_checkpoint_id(config), None, 1)
        return self._decode(rows[0]) if rows else None

    def list(self, config: dict[str, Any] | None, *, filter: dict[str, Any] | None = None,
             before: dict[str, Any] | None = None, limit: int | None = None) -> Iterator[CheckpointTuple]:
        conf = (config or {}).get("configurable") or {}
        thread_id, ns = conf.get("thread_id"), conf.get("checkpoint_ns")
        rows = self._checkpoint_rows(
            None if thread_id is None else str(thread_id), None if ns is None else str(ns),
            conf.get("checkpoint_id") or None, get_checkpoint_id(before) if before else None,
            None if filter else limit)
        n = 0
        for row in sorted(rows, key=lambda r: r[2], reverse=True):
            t = self._decode(row)
            if not metadata_matches(t.metadata, filter):
                continue
            yield t
            n += 1
            if limit is not None and n >= limit:
                return

    async def aget_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(self, config: dict[str, Any] | None, *, filter: dict[str, Any] | None = None,
                    before: dict[str, Any] | None = None, limit: int | None = None) -> AsyncIterator[CheckpointTuple]:
        for t in self.list(config, filter=filter, before=before, limit=limit):
            yield t

    # --- writes refuse ------------------------------------------------------------------------

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise ReadOnlyDatabaseError(
            f"this {self.what} is open read-only: copy it into a waypoint database with "
            "`waypoint migrate --from langgraph+<url> --to <url>` and write there"
        )

    async def _arefuse(self, *args: Any, **kwargs: Any) -> Any:
        self._refuse()

    put = put_writes = delete_thread = delete_for_runs = copy_thread = prune = _refuse
    aput = aput_writes = adelete_thread = adelete_for_runs = acopy_thread = aprune = _arefuse


class LangGraphSqliteReader(_Reader):
    """Reads the tables of LangGraph's ``SqliteSaver`` (checkpoints hold every value inline)."""

    mark = "?"
    what = "LangGraph SQLite database"

    def __init__(self, path: str, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    def close(self) -> None:
        self.conn.close()

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return self.conn.execute(sql, list(params)).fetchall()

    def _has_checkpoints(self) -> bool:
        return bool(self._fetch("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoints'", ()))

    def _body(self, type_: str, body: bytes) -> tuple[dict[str, Any], Any]:
        return dict(self.serde.loads_typed((type_, bytes(body)))), None

    def _blobs(self, thread_id: str, ns: str, checkpoint: dict[str, Any], extra: Any) -> dict[str, Any]:
        return {}

    def _writes(self, thread_id: str, ns: str, cid: str) -> list[Sequence[Any]]:
        return self._fetch(
            "SELECT task_id, channel, type, value FROM writes WHERE thread_id = ? AND checkpoint_ns = ? "
            "AND checkpoint_id = ? ORDER BY task_id, idx", (thread_id, ns, cid))


class LangGraphPostgresReader(_Reader):
    """Reads the tables of LangGraph's ``PostgresSaver``: primitive values inline in the
    checkpoint's JSON, the others in ``checkpoint_blobs`` by (channel, version)."""

    mark = "%s"
    what = "LangGraph PostgreSQL database"

    def __init__(self, conn: Any, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self.conn = conn

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return self.conn.execute(sql, list(params)).fetchall()

    def _has_checkpoints(self) -> bool:
        return self._fetch("SELECT to_regclass('checkpoints')", ())[0][0] is not None

    def _body(self, type_: str, body: Any) -> tuple[dict[str, Any], Any]:
        return dict(body if isinstance(body, dict) else json.loads(body)), None

    def _blobs(self, thread_id: str, ns: str, checkpoint: dict[str, Any], extra: Any) -> dict[str, Any]:
        versions = checkpoint.get("channel_versions") or {}
        if not versions:
            return {}
        rows = self._fetch(
            "SELECT channel, type, blob FROM checkpoint_blobs WHERE thread_id = %s AND checkpoint_ns = %s "
            "AND (channel, version) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
            (thread_id, ns, list(versions), [str(v) for v in versions.values()]))
        return {ch: self.serde.loads_typed((t, bytes(b) if b is not None else b""))
                for ch, t, b in rows if t != "empty"}

    def _writes(self, thread_id: str, ns: str, cid: str) -> list[Sequence[Any]]:
        return self._fetch(
            "SELECT task_id, channel, type, blob FROM checkpoint_writes WHERE thread_id = %s AND "
            "checkpoint_ns = %s AND checkpoint_id = %s ORDER BY task_id, idx", (thread_id, ns, cid))


__all__ = ["LangGraphPostgresReader", "LangGraphSqliteReader", "ReadOnlyDatabaseError"]
