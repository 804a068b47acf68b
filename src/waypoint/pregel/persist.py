"""Writing a run's checkpoints: what a Loop queues for the saver, and when.

Every checkpoint is handed to ``put`` with the channels whose versions changed since the
previous put of this run (``new_versions``) and, for list-valued reducer channels, a
``LogHint`` telling the saver how many leading items are unchanged since that put.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from waypoint.checkpoint.base import (
    CHECKPOINT_FORMAT_VERSION,
    Checkpoint,
    LogHint,
    new_checkpoint_id,
    now_iso,
)
from waypoint.pregel.constants import CONF, K_CHECKPOINT_MAP

if TYPE_CHECKING:
    from waypoint.pregel.loop import Loop


class PersistMixin:
    """Checkpoint creation and the saver calls of a Loop (queued in ``outbox``)."""

    def _save_writes(self: Loop, task_id: str, path: str, writes: list[tuple[str, Any]]) -> None:
        if not self.checkpointer:
            return
        op = ("put_writes", self._config_at(self.checkpoint_id), writes, task_id, path)
        if self.durability == "exit":
            self.deferred.append(op)
        else:
            self.outbox.append(op)

    def _config_at(self: Loop, checkpoint_id: str | None) -> dict[str, Any]:
        conf: dict[str, Any] = {"thread_id": self.thread_id, "checkpoint_ns": self.ns}
        if checkpoint_id:
            conf["checkpoint_id"] = checkpoint_id
        return {CONF: conf}

    def _new_checkpoint(self: Loop, source: str) -> None:
        self.parent_id = self.checkpoint_id if self.step > -2 else None
        self.checkpoint_id = new_checkpoint_id()
        self.ts = now_iso() if self.checkpointer or self.modes else ""
        self.step += 1
        self.source = source
        self.deferred = []
        if self.checkpointer:
            self.pending_put = True
            if self.durability != "exit":
                self._put()

    def _put(self: Loop) -> None:
        channels, versions = self.channels, self.versions
        dirty = self.dirty
        new_versions = {ch: versions[ch] for ch in dirty}
        checkpoint = Checkpoint(
            v=CHECKPOINT_FORMAT_VERSION,
            id=self.checkpoint_id,
            ts=self.ts,
            channel_values=dict(self.values),
            channel_versions=dict(versions),
            versions_seen=dict(self.seen),
            updated_channels=sorted(self.updated) if self.updated is not None else None,
        )
        logs = self.graph.log_channels
        if logs:
            hints = {}
            put_versions = self.put_versions
            for ch in dirty:
                if ch in logs and type(self.values.get(ch)) is list:
                    channel = channels[ch]
                    hints[ch] = LogHint(put_versions.get(ch), channel.log_prefix)
                    channel.mark_log()
            if hints:
                checkpoint["channel_logs"] = hints
        if self.graph.untracked:  # live in the run, never in a checkpoint
            values = checkpoint["channel_values"]
            for ch in self.graph.untracked:
                values.pop(ch, None)
        self.put_versions.update(new_versions)
        self.dirty = set()
        metadata = {
            **self.user_metadata,
            "source": self.source,
            "step": self.step,
            "parents": dict(self.checkpoint_map),
        }
        self.outbox.append(("put", self._config_at(self.last_put_id), checkpoint, metadata, new_versions))
        self.last_put_id = self.checkpoint_id
        self.pending_put = False

    def finish(self: Loop) -> None:
        """End of run: with durability "exit", persist the last checkpoint (and the open
        step's writes when the run stopped on an interrupt or error)."""
        if self.durability == "exit" and self.checkpointer and not self.crashed:
            if self.pending_put:
                self._put()
            self.outbox.extend(self.deferred)
            self.deferred = []

    @property
    def current_config(self: Loop) -> dict[str, Any]:
        conf = self._config_at(self.checkpoint_id)
        if self.checkpoint_map:
            conf[CONF][K_CHECKPOINT_MAP] = {**self.checkpoint_map, self.ns: self.checkpoint_id}
        return conf
