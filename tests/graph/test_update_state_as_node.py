"""``update_state`` without ``as_node`` infers the node the update comes from by LangGraph's
rules, compared side by side with LangGraph 1.2 (memory and SQLite savers): before any node
ran it is ``START`` (so a one-node graph's node runs again after the update, as the
time-travel tutorial's fork relies on); afterwards the node that wrote last; a tie between
parallel nodes is an error; and a one-node (sub)graph paused at an interrupt keeps the
pending resume."""

from __future__ import annotations

import importlib
import operator
from typing import Annotated, Any, TypedDict

import pytest


class S(TypedDict):
    log: Annotated[list, operator.add]


def _saver(pkg: str, kind: str, tmp_path: Any) -> Any:
    if kind == "memory":
        return importlib.import_module(pkg + ".checkpoint.memory").InMemorySaver()
    import sqlite3

    mod = importlib.import_module(pkg + ".checkpoint.sqlite")
    if pkg == "langgraph":
        return mod.SqliteSaver(sqlite3.connect(tmp_path / "lg.db", check_same_thread=False))
    return mod.SqliteSaver(tmp_path / "wp.db")


def _scenarios(pkg: str, kind: str, tmp_path: Any) -> list[Any]:
    g = importlib.import_module(pkg + ".graph")
    t = importlib.import_module(pkg + ".types")
    errors = importlib.import_module(pkg + ".errors")
    saver = _saver(pkg, kind, tmp_path)
    out: list[Any] = []

    # the time-travel tutorial: fork the checkpoint before the only node ran
    bot = g.StateGraph(S).add_node("bot", lambda s: {"log": ["bot"]}).add_edge(g.START, "bot").compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "tutorial"}}
    bot.invoke({"log": ["hi"]}, cfg)
    before = [h for h in bot.get_state_history(cfg) if h.next == ("bot",)][-1]
    fork = bot.update_state(before.config, {"log": ["edit"]})
    snap = bot.get_state(fork)
    out.append(("fork", snap.next, snap.values, snap.metadata["source"]))
    out.append(("rerun", bot.invoke(None, fork)))
    latest = bot.update_state(cfg, {"log": ["after"]})  # after the node ran: as the node
    out.append(("latest", bot.get_state(latest).next, bot.get_state(latest).values))
    again = bot.update_state(cfg, {"log": ["again"]})
    out.append(("again", bot.get_state(again).next, bot.get_state(again).values))

    # a chain: the last node that wrote
    chain = g.StateGraph(S)
    chain.add_node("a", lambda s: {"log": ["a"]})
    chain.add_node("b", lambda s: {"log": ["b"]})
    chain.add_edge(g.START, "a").add_edge("a", "b")
    chain = chain.compile(checkpointer=saver, interrupt_after=["a"])
    cfg = {"configurable": {"thread_id": "chain"}}
    chain.invoke({"log": []}, cfg)
    chain.update_state(cfg, {"log": ["x"]})
    out.append(("chain", chain.get_state(cfg).next, chain.invoke(None, cfg)))

    # parallel nodes wrote in the same step: ambiguous
    par = g.StateGraph(S)
    par.add_node("a", lambda s: {"log": ["a"]})
    par.add_node("b", lambda s: {"log": ["b"]})
    par.add_edge(g.START, "a").add_edge(g.START, "b")
    par = par.compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "parallel"}}
    par.invoke({"log": []}, cfg)
    with pytest.raises(errors.InvalidUpdateError):
        par.update_state(cfg, {"log": ["x"]})
    out.append(("parallel", "refused"))

    # one-node root graph paused at an interrupt: the update keeps the pending resume
    ask = g.StateGraph(S).add_node("ask", lambda s: {"log": [t.interrupt("q?")]}).add_edge(g.START, "ask")
    root = ask.compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "root"}}
    root.invoke({"log": []}, cfg)
    root.update_state(cfg, {"log": ["edited"]})
    snap = root.get_state(cfg)
    out.append(("root", snap.next, [(x.name, len(x.interrupts)) for x in snap.tasks], snap.values))
    out.append(("root resumed", root.invoke(t.Command(resume="ans"), cfg)))

    # the same graph as a persistent subgraph, updated through its own namespace
    parent = g.StateGraph(S).add_node("sub", ask.compile(checkpointer=True)).add_edge(g.START, "sub").compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "sub"}}
    parent.invoke({"log": []}, cfg)
    sub_config = parent.get_state(cfg, subgraphs=True).tasks[0].state.config
    parent.update_state(sub_config, {"log": ["edited"]})
    inner = parent.get_state(cfg, subgraphs=True).tasks[0].state
    out.append(("sub", inner.next, [(x.name, len(x.interrupts)) for x in inner.tasks], inner.values))
    out.append(("sub resumed", parent.invoke(t.Command(resume="ans"), cfg)))
    return out


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_as_node_inference_as_langgraph(kind: str, tmp_path: Any) -> None:
    ours = _scenarios("waypoint", kind, tmp_path)
    theirs = _scenarios("langgraph", kind, tmp_path)
    assert ours == theirs
    assert ours[0] == ("fork", ("bot",), {"log": ["hi", "edit"]}, "update")
    assert ours[1] == ("rerun", {"log": ["hi", "edit", "bot"]})
    assert ours[-1] == ("sub resumed", {"log": ["edited", "ans"]})
