"""Databases the browser tests open, made by real graph runs: LangChain chats (one holding a
``<script>`` in a message), approval threads waiting at an interrupt, a thread forked with
``update_state`` from an older checkpoint, and store items."""

from __future__ import annotations

from typing import Any

from tests.cli import _chat, _graph
from waypoint.cli._inspect import thread_config

SCRIPT_TEXT = "<script>document.title='pwned'</script> what is the weather?"
CHATS = {"chat-paris": "Paris", "chat-script": SCRIPT_TEXT}
APPROVALS = {"review-1": {"user": "alice"}, "review-2": {"user": "bob"}}
FORKED = "chat-paris"
MEMORIES = [
    (("users", "alice", "memories"), "m1", {"kind": "preference", "text": "likes window seats"}),
    (("users", "alice", "memories"), "m2", {"kind": "fact", "text": "lives in Oslo"}),
    (("users", "bob", "memories"), "m1", {"kind": "preference", "text": "vegetarian"}),
    (("docs",), "readme", {"kind": "doc", "text": "how to file a ticket"}),
]


def fill(url: str) -> dict[str, Any]:
    """Fill the database at ``url``; returns what the tests look for (the fork's ids)."""
    from waypoint.cli._urls import open_saver, open_store

    with open_saver(url, create=True) as saver:
        for thread_id, text in CHATS.items():
            _chat.chat(saver, thread_id, text)
        _graph.populate(saver, APPROVALS)
        graph = _chat.build(saver)
        history = list(graph.get_state_history(thread_config(FORKED)))
        older = next(s for s in history if s.metadata.get("step") == 1)  # after the tool call
        from langchain_core.messages import HumanMessage

        forked = graph.update_state(older.config, {"messages": [HumanMessage("actually, Rome", id="human-fork")]})
    with open_store(url, create=True) as store:
        for namespace, key, value in MEMORIES:
            store.put(namespace, key, value)
    return {"fork_parent": older.config["configurable"]["checkpoint_id"], "fork": forked["configurable"]["checkpoint_id"]}
