"""waypoint quickstart: durable checkpoints, human approval, time travel and memory on SQLite.

Run it with `make demo`. Everything lives in one SQLite file (printed at the start), so you can
run it twice, kill it half-way, or open the file with the `waypoint` command afterwards.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Annotated, Any

from typing_extensions import TypedDict

from waypoint.checkpoint.sqlite import SqliteSaver
from waypoint.config import get_store
from waypoint.graph import END, START, StateGraph, add_messages
from waypoint.store.sqlite import SqliteStore
from waypoint.types import Command, interrupt


# --- a toy embedder: hashed words, minus stop words (swap in a real model in your app) -----
DIMS = 256
STOP = {"a", "and", "do", "i", "in", "is", "my", "near", "the", "what", "with", "where"}


def embed(texts: list[str]) -> list[list[float]]:
    vectors = []
    for text in texts:
        vec = [0.0] * DIMS
        for word in text.lower().replace("?", " ").replace(",", " ").split():
            if word not in STOP:
                vec[int(hashlib.sha1(word.encode()).hexdigest(), 16) % DIMS] += 1.0
        vectors.append(vec)
    return vectors


# --- the graph: draft a reply, ask a person to approve it, then send it --------------------
class State(TypedDict):
    messages: Annotated[list, add_messages]
    draft: str
    status: str


def text(message: Any) -> str:
    """A message's text: with langchain-core installed ``add_messages`` turns the dicts below
    into LangChain messages (as LangGraph does); without it they stay dicts."""
    return message["content"] if isinstance(message, dict) else message.content


def draft(state: State) -> dict:
    question = text(state["messages"][-1])
    memories = get_store().search(("users", "ada"), query=question, limit=1)
    hint = f" (you told me: {memories[0].value['text']})" if memories else ""
    return {"draft": f"Answer to {question!r}{hint}"}


def approve(state: State) -> dict:
    decision = interrupt({"question": "Send this reply?", "draft": state["draft"]})
    return {"status": "approved" if decision == "yes" else "rejected"}


def send(state: State) -> dict:
    if state["status"] != "approved":
        return {"messages": [{"role": "assistant", "content": "(reply withheld)"}]}
    return {"messages": [{"role": "assistant", "content": state["draft"]}]}


builder = StateGraph(State)
builder.add_node(draft)
builder.add_node(approve)
builder.add_node(send)
builder.add_edge(START, "draft")
builder.add_edge("draft", "approve")
builder.add_edge("approve", "send")
builder.add_edge("send", END)


def main() -> None:
    folder = os.environ.get("WAYPOINT_DEMO_DIR") or tempfile.mkdtemp(prefix="waypoint-demo-")
    path = os.path.join(folder, "demo.db")
    print(f"database file: {path}\n")

    index = {"dims": DIMS, "embed": embed, "fields": ["text"]}
    with SqliteSaver.from_conn_string(path) as saver, SqliteStore.from_conn_string(path, index=index) as store:
        # long-term memory, shared by every thread
        store.put(("users", "ada"), "food", {"text": "my favourite food is dumplings with green tea"})
        store.put(("users", "ada"), "city", {"text": "my home is in Lisbon near the river"})
        hits = store.search(("users", "ada"), query="what food do I like", limit=1)
        print(f"memory search 'what food do I like' -> {hits[0].value['text']!r} (score {hits[0].score:.2f})")

        graph = builder.compile(checkpointer=saver, store=store)
        config = {"configurable": {"thread_id": "ticket-1"}}

        # 1. run until the approval interrupt
        result = graph.invoke({"messages": [{"role": "user", "content": "what food do I like"}]}, config)
        pending = result["__interrupt__"][0]
        print(f"\npaused for approval: {pending.value}")
        print(f"next node: {graph.get_state(config).next}")

        # 2. resume with the person's answer (could be another process, days later)
        result = graph.invoke(Command(resume="yes"), config)
        print(f"resumed -> status={result['status']!r}, reply={text(result['messages'][-1])!r}")

        # 3. the history: one checkpoint per step, newest first
        print("\nhistory:")
        history = list(graph.get_state_history(config))
        for snap in history:
            print(f"  step {snap.metadata['step']:>2}  source={snap.metadata['source']:<6} next={snap.next}")

        # 4. time travel: fork from the checkpoint before approval with a different decision
        before_approval = next(s for s in history if s.next == ("approve",))
        fork_config = graph.update_state(before_approval.config, {"status": "rejected"}, as_node="approve")
        forked = graph.invoke(None, fork_config)
        print(f"\nfork from step {before_approval.metadata['step']}: "
              f"status={forked['status']!r}, reply={text(forked['messages'][-1])!r}")
        print(f"the thread's latest checkpoint is now the fork's; the original ending is still there: "
              f"{text(graph.get_state(history[0].config).values['messages'][-1])!r}")

    print(f"\ninspect it yourself:  .venv/bin/waypoint --url sqlite:///{path} history ticket-1")
    print(f"or in a browser:      .venv/bin/waypoint --url sqlite:///{path} ui")


if __name__ == "__main__":
    main()
