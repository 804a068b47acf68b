"""Stored classes the inspector may not load are named, never imported: the thread page and the
checkpoint page say "unknown type X, start with -I module" (the threads list reads no values
and lists the thread as usual)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, TypedDict

import pytest

pytest.importorskip("starlette")

from starlette.testclient import TestClient  # noqa: E402

MODULE = '''
from dataclasses import dataclass


@dataclass
class Ticket:
    id: int
'''


class State(TypedDict):
    ticket: Any


def test_unknown_types_are_named_not_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from waypoint.checkpoint.sqlite import SqliteSaver
    from waypoint.graph import START, StateGraph
    from waypoint.ui import create_app

    (tmp_path / "wp_uimod.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("wp_uimod")
    builder = StateGraph(State)
    builder.add_node("n", lambda s: {"ticket": mod.Ticket(7)})
    builder.add_edge(START, "n")
    with SqliteSaver.from_conn_string(str(tmp_path / "t.db")) as saver:
        builder.compile(checkpointer=saver).invoke({"ticket": None}, {"configurable": {"thread_id": "t"}})
        monkeypatch.delitem(sys.modules, "wp_uimod")
        saver.serde.policy._cache.clear()
        app, token = create_app(saver)
        client = TestClient(app)
        listing = client.get(f"/?token={token}").text
        # the threads list reads no values: the thread is listed as usual
        assert 'class="thread-link" href="/thread/t"' in listing and "unknown type" not in listing
        thread = client.get("/thread/t")
        assert thread.status_code == 200 and "unknown type wp_uimod.Ticket" in thread.text  # the tree reads no values
        cid = thread.text.split('data-id="')[1].split('"')[0]
        page = client.get(f"/thread/t/checkpoint/{cid}")
        assert page.status_code == 422 and "unknown type wp_uimod.Ticket, start with -I wp_uimod" in page.text
        assert "wp_uimod" not in sys.modules  # never imported
