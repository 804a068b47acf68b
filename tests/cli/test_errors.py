"""Every error a user can cause prints one clear line and exits non-zero."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.cli.conftest import fail, run


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unknown_scheme_missing_url_and_missing_file(tmp_path: Path) -> None:
    assert "unknown database URL scheme in 'redis://localhost/0'" in fail("threads", url="redis://localhost/0")
    assert "unknown database URL scheme" in fail("-u", "checkpoints.db", "threads")
    assert "no database URL: pass --url or set WAYPOINT_URL" in fail("threads")
    assert "no such SQLite database file: " in fail("threads", url=f"sqlite:///{tmp_path / 'nope.db'}")
    assert not (tmp_path / "nope.db").exists()  # reading never creates a database


def test_unreachable_databases_name_the_url_without_its_password() -> None:
    port = _closed_port()
    line = fail("threads", url=f"postgresql://postgres:hunter2@127.0.0.1:{port}/db")
    assert line.startswith(f"Error: cannot connect to postgresql://postgres@127.0.0.1:{port}/db: ")
    assert "hunter2" not in line
    line = fail("threads", url=f"mongodb://127.0.0.1:{port}/db?serverSelectionTimeoutMS=300&connectTimeoutMS=300")
    assert line.startswith(f"Error: cannot connect to mongodb://127.0.0.1:{port}/db")


def test_missing_thread_and_checkpoint(sqlite_db: str) -> None:
    assert fail("history", "nope", url=sqlite_db) == "Error: thread 'nope' not found"
    assert fail("show", "nope", url=sqlite_db) == "Error: thread 'nope' not found"
    assert fail("show", "nope", "0123", url=sqlite_db) == "Error: thread 'nope' not found"
    assert "checkpoint 'zzzz' not found in thread 'chat-bob'" in fail("show", "chat-bob", "zzzz", url=sqlite_db)
    assert "checkpoint '1' matches 5 checkpoints" in fail("diff", "chat-bob", "1", "1", url=sqlite_db)  # ids start 1f0 (uuid6)
    assert fail("export", "nope", "-o", "x.jsonl", url=sqlite_db) == "Error: thread 'nope' not found"
    assert "name the threads to export, or pass --all" in fail("export", "-o", "x.jsonl", url=sqlite_db)
    assert "--filter expects KEY=VALUE" in fail("threads", "-f", "user", url=sqlite_db)
    assert "cannot import module 'no_such_module'" in fail("-I", "no_such_module", "threads", url=sqlite_db)


def test_not_a_database_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_text("this is not sqlite " * 100)
    line = fail("threads", url=f"sqlite:///{bogus}")
    assert "not a database" in line


def test_console_script_and_version(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    script = Path(sys.executable).with_name("waypoint")
    exe = str(script) if script.exists() else shutil.which("waypoint")
    assert exe, "the waypoint console script is installed with the package"
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "threads" in proc.stdout and "migrate" in proc.stdout
    assert "version" in run("--version").out


USERMOD = '''
from dataclasses import dataclass
from typing import TypedDict

from waypoint.graph import START, StateGraph


@dataclass
class Ticket:
    id: int
    title: str


class State(TypedDict):
    ticket: Ticket


def build(saver):
    builder = StateGraph(State)
    builder.add_node("triage", lambda s: {"ticket": Ticket(s["ticket"].id, s["ticket"].title.upper())})
    builder.add_edge(START, "triage")
    return builder.compile(checkpointer=saver)
'''


def test_user_classes_need_import(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import importlib
    import sys

    from tests.cli.conftest import sqlite_saver

    (tmp_path / "wp_usermod.py").write_text(USERMOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    usermod = importlib.import_module("wp_usermod")
    db = tmp_path / "tickets.db"
    with sqlite_saver(db) as saver:
        usermod.build(saver).invoke({"ticket": usermod.Ticket(7, "printer on fire")}, {"configurable": {"thread_id": "t"}})
    sys.modules.pop("wp_usermod", None)
    url = f"sqlite:///{db}"
    line = fail("show", "t", url=url, cwd=tmp_path)
    assert line.startswith("Error: DisallowedTypeError: ") and "Corrupt" not in line, line
    assert "module 'wp_usermod' is not imported" in line and "-I wp_usermod" in line, line
    data = run("-I", "wp_usermod", "show", "t", "--json", url=url, cwd=tmp_path).json
    assert data["values"] == {"ticket": {"id": 7, "title": "PRINTER ON FIRE"}}


def test_encrypted_checkpoints_need_the_key(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    from tests.cli import _graph
    from waypoint.checkpoint.serde.encrypted import EncryptedSerializer
    from waypoint.checkpoint.sqlite import SqliteSaver

    key = os.urandom(32).hex()
    db = tmp_path / "secret.db"
    with SqliteSaver.from_conn_string(db, serde=EncryptedSerializer(key=key)) as saver:
        _graph.populate(saver, {"s": {}})
    url = f"sqlite:///{db}"
    assert "set WAYPOINT_AES_KEY to read encrypted checkpoints" in fail("show", "s", url=url)
    monkeypatch.setenv("WAYPOINT_AES_KEY", key)
    assert run("show", "s", "--json", url=url).json["values"]["count"] == 1
