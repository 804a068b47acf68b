"""One adapter shape for every saver: LangGraph's ``BaseCheckpointSaver`` over a waypoint saver.

The adapter owns a waypoint saver (``.waypoint``) built with the same arguments as the backend's
waypoint class, and translates at the edge: LangGraph's runtime types become waypoint's on the
way in (see ``_translate``), list channels get a log hint from the append tracker, tuples come
back as LangGraph's ``CheckpointTuple``. Storage, schema and serializer are waypoint's, so the
database is the one waypoint programs use.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, ClassVar

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.base import CheckpointTuple as LgCheckpointTuple

from waypoint.checkpoint.base import get_checkpoint_ns, get_thread_id, next_version
from waypoint.langgraph._appends import AppendTracker
from waypoint.langgraph._translate import (
    to_langgraph,
    tuple_to_langgraph,
    values_to_waypoint,
    writes_to_waypoint,
)


def load(path: str) -> type:
    """``"module:Class"`` imported on first use (backends need their optional drivers)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class SaverAdapter(BaseCheckpointSaver[str]):
    """LangGraph's saver interface over the waypoint saver named by ``waypoint_class``."""

    waypoint_class: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._attach(load(self.waypoint_class)(*args, **kwargs))

    def _attach(self, inner: Any) -> None:
        self.waypoint = inner
        BaseCheckpointSaver.__init__(self, serde=inner.serde)
        self._appends = AppendTracker()

    @classmethod
    def _wrap(cls, inner: Any) -> Any:
        adapter = cls.__new__(cls)
        adapter._attach(inner)
        return adapter

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "waypoint_class" in cls.__dict__:
            cls.__doc__ = cls.__doc__ or f"LangGraph saver over waypoint's {cls.waypoint_class}."

    def __getattr__(self, name: str) -> Any:
        # connection attributes and backend extras (conn, lock, leases, ...) of the waypoint saver
        if name.startswith("_") or "waypoint" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.waypoint, name)

    @property
    def config_specs(self) -> list:
        return []

    # --- translation helpers ----------------------------------------------------------------

    def _prepare(
        self, config: dict[str, Any], checkpoint: Checkpoint, new_versions: ChannelVersions
    ) -> dict[str, Any]:
        values = checkpoint.get("channel_values") or {}
        out = dict(checkpoint)
        out["channel_values"] = values_to_waypoint(values)
        out["channel_logs"] = self._appends.hints(
            get_thread_id(config), get_checkpoint_ns(config), values, new_versions
        )
        return out

    def _stored(self, config: dict[str, Any], checkpoint: Checkpoint, new_versions: ChannelVersions) -> None:
        values = checkpoint.get("channel_values") or {}
        self._appends.remember(get_thread_id(config), get_checkpoint_ns(config), values, new_versions)

    def _read(self, t: Any) -> LgCheckpointTuple | None:
        out = tuple_to_langgraph(t)
        if out is not None:
            conf = out.config["configurable"]
            cp = out.checkpoint
            self._appends.remember(
                str(conf["thread_id"]), conf.get("checkpoint_ns", ""),
                cp["channel_values"], cp["channel_versions"],
            )
        return out

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """Waypoint's versions (zero-padded counter plus a random tail), so both runtimes
        agree on one thread's versions."""
        return next_version(current)

    # --- sync face --------------------------------------------------------------------------

    def get_tuple(self, config: dict[str, Any]) -> LgCheckpointTuple | None:
        return self._read(self.waypoint.get_tuple(config))

    def list(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[LgCheckpointTuple]:
        for t in self.waypoint.list(config, filter=filter, before=before, limit=limit):
            yield tuple_to_langgraph(t)  # type: ignore[misc]

    def put(
        self,
        config: dict[str, Any],
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> dict[str, Any]:
        out = self.waypoint.put(config, self._prepare(config, checkpoint, new_versions), metadata, new_versions)
        self._stored(config, checkpoint, new_versions)
        return out

    def put_writes(
        self,
        config: dict[str, Any],
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.waypoint.put_writes(config, writes_to_waypoint(writes), task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self._appends.forget_thread(str(thread_id))
        self.waypoint.delete_thread(thread_id)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.waypoint.delete_for_runs(run_ids)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.waypoint.copy_thread(source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.waypoint.prune(thread_ids, strategy=strategy)  # type: ignore[arg-type]

    # --- async face -------------------------------------------------------------------------

    async def aget_tuple(self, config: dict[str, Any]) -> LgCheckpointTuple | None:
        return self._read(await self.waypoint.aget_tuple(config))

    async def alist(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[LgCheckpointTuple]:
        async for t in self.waypoint.alist(config, filter=filter, before=before, limit=limit):
            yield tuple_to_langgraph(t)  # type: ignore[misc]

    async def aput(
        self,
        config: dict[str, Any],
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> dict[str, Any]:
        prepared = self._prepare(config, checkpoint, new_versions)
        out = await self.waypoint.aput(config, prepared, metadata, new_versions)
        self._stored(config, checkpoint, new_versions)
        return out

    async def aput_writes(
        self,
        config: dict[str, Any],
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self.waypoint.aput_writes(config, writes_to_waypoint(writes), task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self._appends.forget_thread(str(thread_id))
        await self.waypoint.adelete_thread(thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self.waypoint.adelete_for_runs(run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self.waypoint.acopy_thread(source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self.waypoint.aprune(thread_ids, strategy=strategy)  # type: ignore[arg-type]


class SyncSaverAdapter(SaverAdapter):
    """A saver over a blocking client: ``from_conn_string`` is a ``with`` context manager."""

    @classmethod
    @contextmanager
    def from_conn_string(cls, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """As the waypoint class's ``from_conn_string``, yielding the LangGraph adapter."""
        with load(cls.waypoint_class).from_conn_string(*args, **kwargs) as inner:
            yield cls._wrap(inner)

    def setup(self) -> None:
        """Create or migrate waypoint's schema (idempotent)."""
        self.waypoint.setup()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        close = getattr(self.waypoint, "close", None)
        if close is not None:
            close()


class AsyncSaverAdapter(SaverAdapter):
    """A saver over an asyncio client: ``from_conn_string`` is an ``async with`` manager."""

    @classmethod
    @asynccontextmanager
    async def from_conn_string(cls, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """As the waypoint class's ``from_conn_string``, yielding the LangGraph adapter."""
        async with load(cls.waypoint_class).from_conn_string(*args, **kwargs) as inner:
            yield cls._wrap(inner)

    async def setup(self) -> None:
        """Create or migrate waypoint's schema (idempotent): ``await saver.setup()``."""
        result = self.waypoint.setup()
        if inspect.isawaitable(result):
            await result
