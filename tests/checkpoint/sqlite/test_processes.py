"""Graphs resumed from a SQLite file by a second process: after an interrupt, after SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

GRAPH = textwrap.dedent(
    '''
    import operator, sys, time
    from pathlib import Path
    from typing import Annotated, TypedDict
    from waypoint.graph import StateGraph, START, END
    from waypoint.types import Command, LeasePolicy, interrupt

    backend, target, mode, side = sys.argv[1:5]
    side = Path(side)

    def mark(text):
        with side.open("a") as f:
            f.write(text + "\\n")
            f.flush()
            import os; os.fsync(f.fileno())

    class S(TypedDict):
        log: Annotated[list, operator.add]
        answer: str

    def first(state):
        mark("first-done")
        return {"log": ["first"]}

    def fast(state):
        mark("fast-done")
        return {"log": ["fast"]}

    def slow(state):
        mark("slow-start")
        if mode == "kill":
            time.sleep(60)  # killed here
        mark("slow-done")
        return {"log": ["slow"]}

    def ask(state):
        answer = interrupt("name?")
        mark("ask-done")
        return {"log": ["asked"], "answer": answer}

    def last(state):
        mark("last-done")
        return {"log": ["last:" + state.get("answer", "")]}

    b = StateGraph(S)
    for name, fn in [("first", first), ("fast", fast), ("slow", slow), ("ask", ask), ("last", last)]:
        b.add_node(name, fn)
    b.add_edge(START, "first")
    b.add_edge("first", "fast")
    b.add_edge("first", "slow")
    b.add_edge(["fast", "slow"], "ask")
    b.add_edge("ask", "last")
    b.add_edge("last", END)

    if backend == "sqlite":
        from waypoint.checkpoint.sqlite import SqliteSaver
        saver_cm = SqliteSaver.from_conn_string(target)
    elif backend == "mongodb":
        from waypoint.checkpoint.mongodb import MongoDBSaver
        uri, _, db_name = target.rpartition("#")
        saver_cm = MongoDBSaver.from_conn_string(uri, db_name=db_name)
    else:
        from waypoint.checkpoint.postgres import PostgresSaver
        saver_cm = PostgresSaver.from_conn_string(target)
    with saver_cm as saver:
        # a killed holder's lease expires after 1 s; the next run waits for that, then resumes
        lease = LeasePolicy(ttl=1.0, on_busy="wait", wait_timeout=30)
        graph = b.compile(checkpointer=saver, lease=lease)
        config = {"configurable": {"thread_id": "proc"}}
        if mode in ("start", "kill"):
            out = graph.invoke({"log": ["in"]}, config)
        elif mode == "resume-kill":
            out = graph.invoke(None, config)
        else:
            out = graph.invoke(Command(resume="ada"), config)
        print(repr(out.get("__interrupt__", [None])[0].value if "__interrupt__" in out else out["log"]))
    '''
)


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "graph_proc.py"
    path.write_text(GRAPH)
    return path


def run_graph(tmp_path: Path, backend: str, target: str, mode: str, side: Path) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, str(_script(tmp_path)), backend, target, mode, str(side)],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def counts(side: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in side.read_text().split():
        out[line] = out.get(line, 0) + 1
    return out


FINAL = "['in', 'first', 'fast', 'slow', 'asked', 'last:ada']"


def check_interrupt_then_resume(tmp_path: Path, backend: str, target: str) -> None:
    side = tmp_path / "runs.txt"
    assert run_graph(tmp_path, backend, target, "start", side) == "'name?'"
    assert run_graph(tmp_path, backend, target, "resume", side) == FINAL
    runs = counts(side)
    assert runs == {"first-done": 1, "fast-done": 1, "slow-start": 1, "slow-done": 1, "ask-done": 1, "last-done": 1}


def test_interrupted_graph_resumes_in_a_second_process(tmp_path: Path) -> None:
    check_interrupt_then_resume(tmp_path, "sqlite", str(tmp_path / "g.db"))


@pytest.mark.slow
def test_sigkill_mid_step_then_resume(tmp_path: Path) -> None:
    db = str(tmp_path / "k.db")
    side = tmp_path / "runs.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(_script(tmp_path)), "sqlite", db, "kill", str(side)], env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        seen = counts(side) if side.exists() else {}
        if seen.get("slow-start") and seen.get("fast-done"):
            break
        time.sleep(0.05)
    time.sleep(0.5)  # let the finished task's writes commit
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert run_graph(tmp_path, "sqlite", db, "resume-kill", side) == "'name?'"
    assert run_graph(tmp_path, "sqlite", db, "resume", side) == FINAL
    runs = counts(side)
    # the killed node ran again; no node that had finished ran twice
    assert runs == {"first-done": 1, "fast-done": 1, "slow-start": 2, "slow-done": 1, "ask-done": 1, "last-done": 1}, runs
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
