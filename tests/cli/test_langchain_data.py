"""Databases of LangChain-message chats, written by a real graph, open in every command without
``-I``; data naming a class this process may not load is a DisallowedTypeError (not "corrupt")
that says how to allow it; ``--main`` reads classes of a program's ``__main__``; long commands
draw progress bars on a terminal only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, TypedDict

import pytest

pytest.importorskip("langchain_core")

from tests.cli import _chat  # noqa: E402
from tests.cli.conftest import ROOT, fail, run  # noqa: E402

CITIES = {"wx-paris": "Paris", "wx-oslo": "Oslo"}


def _fill(url: str) -> None:
    from waypoint.cli._urls import open_saver

    with open_saver(url, create=True) as saver:
        for thread_id, city in CITIES.items():
            _chat.chat(saver, thread_id, city)


@pytest.fixture(params=["sqlite", "postgres", "mongodb"])
def chat_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    kind = request.param
    url = f"sqlite:///{tmp_path / 'chat.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url" if kind == "postgres" else "mongo_url")
    _fill(url)
    return url


def test_every_command_reads_langchain_chats_without_imports(chat_url: str, tmp_path: Path) -> None:
    threads = run("threads", "--json", url=chat_url).json
    assert {t["thread_id"] for t in threads["threads"]} == set(CITIES)
    data = run("show", "wx-paris", "--json", url=chat_url).json
    messages = data["values"]["messages"]
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1]["tool_calls"] == [{"name": "weather", "args": {"city": "Paris"}, "id": "call-1", "type": "tool_call"}]
    assert messages[2]["tool_call_id"] == "call-1" and messages[2]["content"] == "sunny in Paris"
    assert data["values"]["docs"][0]["page_content"] == "forecast for Paris"
    history = run("history", "wx-paris", "--json", url=chat_url).json["checkpoints"]
    assert len(history) == 5
    newest, oldest = history[0]["checkpoint_id"], history[-1]["checkpoint_id"]
    diff = run("diff", "wx-paris", oldest, newest, "--json", url=chat_url).json
    assert "messages" in {c["channel"] for c in diff["channels"]}
    assert run("stats", "--json", url=chat_url).json["threads"] == 2
    out = tmp_path / "chat.jsonl"
    run("export", "--all", "--out", str(out), url=chat_url)
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    run("import", str(out), url=target)
    assert run("show", "wx-oslo", "--json", url=target).json["values"] == run("show", "wx-oslo", "--json", url=chat_url).json["values"]
    moved = run("migrate", "--from", chat_url, "--to", f"sqlite:///{tmp_path / 'moved.db'}", "--json").json
    assert moved["threads"] == 2 and moved["verified"] == 10


def _loads_in_fresh_process(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_serializer_loads_langchain_types_in_a_process_that_never_imported_them() -> None:
    from langchain_core.documents import Document
    from langchain_core.messages import AIMessage

    from waypoint.checkpoint.serde import JsonPlusSerializer

    value = [AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "1"}]), Document(page_content="d")]
    tag, data = JsonPlusSerializer().dumps_typed(value)
    out = _loads_in_fresh_process(
        "import sys\n"
        "from waypoint.checkpoint.serde import JsonPlusSerializer\n"
        "assert 'langchain_core.documents.base' not in sys.modules\n"
        f"v = JsonPlusSerializer(strict=True).loads_typed(({tag!r}, {data!r}))\n"
        "print(type(v[0]).__name__, v[0].tool_calls[0]['name'], type(v[1]).__name__, v[1].page_content)\n"
    )
    assert out == "AIMessage f Document d"


def test_other_langchain_classes_are_neither_imported_nor_loaded() -> None:
    import ormsgpack

    from waypoint.checkpoint.serde import _stdlib as codes

    # a pydantic-model reference to a LangChain class outside the default list
    payload = ormsgpack.packb(ormsgpack.Ext(codes.LC_CONSTRUCTOR, ormsgpack.packb(["langchain_core.runnables.base", "RunnableLambda", {}])))
    out = _loads_in_fresh_process(
        "import sys\n"
        "from waypoint.checkpoint.serde import JsonPlusSerializer\n"
        "from waypoint.errors import DisallowedTypeError\n"
        "try:\n"
        f"    JsonPlusSerializer().loads_typed(('msgpack', {payload!r}))\n"
        "except DisallowedTypeError as exc:\n"
        "    print(exc.type_name, exc.reason, 'langchain_core.runnables.base' in sys.modules)\n"
    )
    assert out == "langchain_core.runnables.base.RunnableLambda not imported False"


USERMOD = '''
from dataclasses import dataclass


@dataclass
class Ticket:
    id: int
    title: str
'''


class TicketState(TypedDict):
    ticket: Any


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgres", "mongodb"])
def test_savers_name_a_disallowed_type_with_its_place(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    import importlib
    from contextlib import nullcontext

    from waypoint.checkpoint.memory import InMemorySaver
    from waypoint.cli._urls import open_saver
    from waypoint.errors import CheckpointReadError, CorruptCheckpointError, DisallowedTypeError
    from waypoint.graph import START, StateGraph

    (tmp_path / "wp_ticketmod.py").write_text(USERMOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("wp_ticketmod")
    builder = StateGraph(TicketState)
    builder.add_node("n", lambda s: {"ticket": mod.Ticket(1, "x")})
    builder.add_edge(START, "n")
    if kind == "memory":
        opened = nullcontext(InMemorySaver())
    else:
        url = f"sqlite:///{tmp_path / 'u.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url" if kind == "postgres" else "mongo_url")
        opened = open_saver(url, create=True)
    with opened as saver:
        builder.compile(checkpointer=saver).invoke({"ticket": None}, {"configurable": {"thread_id": "t"}})
        monkeypatch.delitem(sys.modules, "wp_ticketmod")
        saver.serde.policy._cache.clear()  # classes resolved while the graph ran
        with pytest.raises(DisallowedTypeError) as info:
            saver.get_tuple({"configurable": {"thread_id": "t"}})
    err = info.value
    assert isinstance(err, CheckpointReadError) and isinstance(err, ValueError)
    assert not isinstance(err, CorruptCheckpointError)
    assert err.type_name == "wp_ticketmod.Ticket" and err.module == "wp_ticketmod" and err.reason == "not imported"
    assert err.thread_id == "t" and err.channel == "ticket" and err.checkpoint_id
    assert "-I wp_ticketmod" in str(err)


MAIN_PROGRAM = '''
import sys
from dataclasses import dataclass

from waypoint.checkpoint.sqlite import SqliteSaver
from waypoint.graph import START, StateGraph


@dataclass
class Ticket:
    id: int
    title: str

    @dataclass
    class Note:
        text: str


if __name__ == "__main__":
    builder = StateGraph(dict)
    builder.add_node("n", lambda s: {"ticket": Ticket(7, "printer"), "note": Ticket.Note("on fire")})
    builder.add_edge(START, "n")
    with SqliteSaver.from_conn_string(sys.argv[1]) as saver:
        builder.compile(checkpointer=saver).invoke({}, {"configurable": {"thread_id": "m"}})
    print("wrote")
'''


def test_main_classes_of_the_writing_program(tmp_path: Path) -> None:
    program = tmp_path / "helpdesk.py"
    program.write_text(MAIN_PROGRAM)
    db = tmp_path / "main.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, str(program), str(db)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.stdout.strip() == "wrote", proc.stderr
    url = f"sqlite:///{db}"
    line = fail("show", "m", url=url)
    assert line.startswith("Error: DisallowedTypeError: refusing to load '__main__.") and "--main PROGRAM.py" in line, line
    data = run("--main", str(program), "show", "m", "--json", url=url)
    assert "wrote" not in data.out  # the program's main block did not run
    assert data.json["values"] == {"__root__": {"ticket": {"id": 7, "title": "printer"}, "note": {"text": "on fire"}}}
    assert "no such file" in fail("--main", str(tmp_path / "nope.py"), "show", "m", url=url)


def _on_terminal(*args: str, url: str) -> tuple[int, str]:
    """Run the command with stderr on a pseudo-terminal (stdout a pipe); returns what the
    terminal showed."""
    import pty

    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "WAYPOINT_URL": url, "COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "waypoint.cli", *args], stdout=subprocess.PIPE, stderr=follower, env=env, cwd=ROOT)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    proc.wait(timeout=120)
    os.close(leader)
    return proc.returncode, shown.decode("utf-8", "replace")


def test_progress_bars_on_a_terminal_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    _fill(url)
    out = tmp_path / "all.jsonl"
    code, shown = _on_terminal("export", "--all", "--out", str(out), url=url)
    assert code == 0 and "export" in shown and "2/2" in shown, shown
    code, shown = _on_terminal("prune", "--keep-last", "1", url=url)
    assert code == 0 and "prune" in shown and "2/2" in shown, shown
    piped = run("export", "--all", "--out", str(tmp_path / "again.jsonl"), url=url)
    assert piped.err == ""
    piped = run("import", str(out), url=f"sqlite:///{tmp_path / 'new.db'}")
    assert piped.err == ""
