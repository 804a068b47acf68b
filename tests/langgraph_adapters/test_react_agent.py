"""LangGraph's ``create_react_agent`` (ToolNode tools, an interrupt, a store with semantic
search) runs on waypoint's adapters over SQLite, PostgreSQL and MongoDB, and a second process
resumes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backends._mongo_server import mongo_uri, new_db_name
from tests.backends._pgvector_server import pgvector_url
from tests.backends._postgres import fresh_database

ROOT = Path(__file__).resolve().parents[2]


def run(kind: str, url: str, phase: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.langgraph_adapters._agent_program", kind, url, phase],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mongodb"])
def test_react_agent_interrupts_and_resumes_in_another_process(kind: str, tmp_path: Path) -> None:
    if kind == "sqlite":
        urls = [str(tmp_path / "agent.db")]
    elif kind == "postgres":
        cm = fresh_database(pgvector_url(), "wp_agent")
        urls = [cm.__enter__()]
    else:
        name = new_db_name("wp_agent")
        urls = [f"{mongo_uri()}#{name}"]
    try:
        first = run(kind, urls[0], "start")
        assert first == {"interrupts": ["shall I answer?"], "next": ["tools"]}
        second = run(kind, urls[0], "resume")
        # recall's semantic search found the tea fact; the human's answer reached the tool
        assert second["final"] == "done: I like green tea | human said yes"
        assert second["memories"] == ["I like green tea", "I own a red bicycle"]
        assert second["messages"] == 4 + 4 + 5
    finally:
        if kind == "postgres":
            cm.__exit__(None, None, None)
        elif kind == "mongodb":
            from pymongo import MongoClient

            with MongoClient(mongo_uri()) as client:
                client.drop_database(name)
