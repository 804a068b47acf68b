"""The graphs behind ``data/schema_v3.db``: a database written by the schema-3 row format
(checkpoint body + one blob row per changed channel, full pending writes), kept so later row
formats are tested against real old rows. ``make_fixture`` was run once with that code."""

from __future__ import annotations

import operator
import sqlite3
from pathlib import Path
from typing import Annotated, Any

from typing_extensions import TypedDict

from waypoint.graph import END, START, MessagesState, StateGraph
from waypoint.types import interrupt

DATA = Path(__file__).parent / "data"
THREADS = ("chat", "small", "fork", "ask")


class Small(TypedDict, total=False):
    count: int
    note: str
    items: Annotated[list, operator.add]
    flag: bool | None
    data: dict
    big: str


def chat_app(saver: Any) -> Any:
    from langchain_core.messages import AIMessage

    def assistant(s: Any) -> dict[str, Any]:
        n = len(s["messages"])
        return {"messages": [AIMessage(content=f"reply {n} " + "x" * 50, id=f"a{n}")]}

    b = StateGraph(MessagesState)
    b.add_node("assistant", assistant)
    b.add_edge(START, "assistant")
    b.add_edge("assistant", END)
    return b.compile(checkpointer=saver)


def small_app(saver: Any) -> Any:
    def a(s: Small) -> dict[str, Any]:
        return {"count": s.get("count", 0) + 1, "items": [("a", s.get("count", 0))], "flag": None}

    def b(s: Small) -> dict[str, Any]:
        return {"note": f"b saw {s['count']}", "data": {"k": [1, 2.5, "z"], "t": (1, 2)}, "flag": True}

    def c(s: Small) -> dict[str, Any]:
        return {"items": [s["note"]], "big": "y" * 600}

    g = StateGraph(Small)
    for name, fn in (("a", a), ("b", b), ("c", c)):
        g.add_node(name, fn)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "c")
    g.add_edge("c", END)
    return g.compile(checkpointer=saver)


def ask_app(saver: Any) -> Any:
    def ask(s: Small) -> dict[str, Any]:
        answer = interrupt({"question": "name?"})
        return {"note": answer}

    g = StateGraph(Small)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    return g.compile(checkpointer=saver)


def run_workload(saver: Any) -> None:
    from langchain_core.messages import HumanMessage

    chat = chat_app(saver)
    cfg = {"configurable": {"thread_id": "chat"}}
    for turn in range(4):
        chat.invoke({"messages": [HumanMessage(content=f"question {turn}", id=f"u{turn}")]}, cfg)
    small = small_app(saver)
    for thread in ("small", "fork"):
        cfg = {"configurable": {"thread_id": thread}}
        small.invoke({"count": 1, "items": ["start"]}, cfg)
        small.invoke({"items": ["again"]}, cfg)
    history = list(small.get_state_history({"configurable": {"thread_id": "fork"}}))
    past = history[len(history) // 2].config
    forked = small.update_state(past, {"items": ["forked"], "count": 40}, as_node="a")
    small.invoke(None, forked)
    ask = ask_app(saver)
    ask.invoke({"count": 5}, {"configurable": {"thread_id": "ask"}})


def every_tuple(saver: Any) -> list[Any]:
    out = []
    for thread in THREADS:
        for t in saver.list({"configurable": {"thread_id": thread}}):
            out.append((t.config, t.checkpoint, t.metadata, t.parent_config, t.pending_writes))
    return out


def make_fixture() -> None:  # pragma: no cover - run once with the schema-3 code
    from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer
    from waypoint.checkpoint.sqlite import SqliteSaver

    DATA.mkdir(exist_ok=True)
    path = DATA / "schema_v3.db"
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    run_workload(saver)
    expected = every_tuple(saver)
    conn.execute("DELETE FROM waypoint_leases")
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    type_, data = JsonPlusSerializer().dumps_typed(expected)
    (DATA / "schema_v3.expected").write_bytes(type_.encode() + b"\n" + data)


if __name__ == "__main__":
    make_fixture()
