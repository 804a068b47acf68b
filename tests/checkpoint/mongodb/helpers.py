"""Engine-shaped checkpoint writes for the MongoDB tests (sync saver, called directly)."""

from __future__ import annotations

from typing import Any

from waypoint.checkpoint.base import LogHint, empty_checkpoint


class Conversation:
    """A thread whose ``messages`` channel grows by appends, stored through channel_logs hints
    exactly as the engine hands them over, plus a small ``turn`` channel."""

    def __init__(self, saver: Any, thread_id: str, ns: str = "") -> None:
        self.saver = saver
        self.config: dict[str, Any] = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}}
        self.messages: list[dict[str, Any]] = []
        self.versions: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.steps = 0

    def message(self, role: str, n: int) -> dict[str, Any]:
        body = f"{role} message {n} of {self.config['configurable']['thread_id']} "
        return {"role": role, "content": (body * 8)[:160], "id": f"{role}-{n}"}  # ~200 bytes serialized

    def put(self, changes: dict[str, Any], hints: dict[str, LogHint] | None = None, **metadata: Any) -> dict[str, Any]:
        cp = empty_checkpoint()
        new_versions = {}
        for ch, value in changes.items():
            self.versions[ch] = new_versions[ch] = self.saver.get_next_version(self.versions.get(ch))
            self.values[ch] = value
        cp["channel_values"] = dict(self.values)
        cp["channel_versions"] = dict(self.versions)
        cp["versions_seen"] = {"agent": dict(self.versions)}
        cp["updated_channels"] = sorted(changes)
        if hints:
            cp["channel_logs"] = hints
        md = {"source": "loop", "step": self.steps, "parents": {}, **metadata}
        self.config = self.saver.put(self.config, cp, md, new_versions)
        self.steps += 1
        return self.config

    def turn(self, **metadata: Any) -> dict[str, Any]:
        """One user message and one reply appended: a log append plus a counter change."""
        prev_len, prev_version = len(self.messages), self.versions.get("messages")
        n = self.steps
        self.messages = self.messages + [self.message("user", n), self.message("ai", n)]
        hint = LogHint(prev_version, prev_len)
        return self.put({"messages": self.messages, "turn": n}, {"messages": hint}, **metadata)

    def tick(self) -> dict[str, Any]:
        """A checkpoint that changes only the counter (messages unchanged, not re-stored)."""
        return self.put({"turn": self.steps})
